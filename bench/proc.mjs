// Process-tree helpers for the benchmark (Linux /proc only): memory of a serving process and
// everything it spawned, and a kill that leaves no descendants behind.
import { readdirSync, readFileSync } from 'node:fs';

/** pid → ppid of every process visible in /proc. */
function parents() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // comm may contain spaces and parentheses: ppid is the 2nd field after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), Number(rest[1]));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** `root` and all of its live descendants. */
export function processTree(root) {
  const ppid = parents();
  if (!ppid.has(root)) return [];
  const children = new Map();
  for (const [pid, parent] of ppid) {
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(pid);
  }
  const tree = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop();
    tree.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return tree;
}

function field(text, name) {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Memory of a process tree, in bytes: `rss` is the sum of the processes' resident sets (pages
 * shared between them, like the node binary, counted once per process, as `ps`/`top` show it);
 * `pss` shares every shared page out among the processes that map it (what the tree really costs).
 */
export function treeMemory(root) {
  const pids = processTree(root);
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    const m = processMemory(pid);
    rss += m.rss;
    pss += m.pss;
  }
  return { rss, pss, processes: pids.length };
}

/** Memory of one process, in bytes (0 once it is gone); see treeMemory. */
export function processMemory(pid) {
  const read = (file, name) => {
    try {
      return field(readFileSync(`/proc/${pid}/${file}`, 'utf8'), name);
    } catch {
      return 0; // exited while we looked
    }
  };
  return { rss: read('status', 'VmRSS'), pss: read('smaps_rollup', 'Pss') };
}

/** Running (a zombie waiting to be reaped counts as gone). */
const alive = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};

/** The processes of `root`'s tree that are still running (zombies excluded). */
export function liveTree(root) {
  return processTree(root).filter(alive);
}

/**
 * SIGTERM `root` and every descendant (collected before signalling, so orphans re-parented to
 * init are still found), wait up to `graceMs`, then SIGKILL whatever is left. Resolves with the
 * pids that had to be killed.
 */
export async function killTree(root, graceMs = 3000) {
  const pids = processTree(root);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until && pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
  const stubborn = pids.filter(alive);
  for (const pid of stubborn) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return stubborn;
}

/** Synchronous last-resort variant for process 'exit' handlers. */
export function killTreeNow(root) {
  for (const pid of processTree(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** CPU time (user + system, in ms) a process has used so far; 0 once it is gone. */
export function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (index 11 and 12 after the comm), in clock ticks.
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU time (ms) used so far by `root`, split into the root process and its descendants. */
export function treeCpuMs(root) {
  const [first, ...rest] = processTree(root);
  let children = 0;
  for (const pid of rest) children += processCpuMs(pid);
  return { root: first === undefined ? 0 : processCpuMs(first), children };
}

/** Busy and total CPU time of the whole machine so far (ms, summed over CPUs), from /proc/stat. */
export function systemCpuMs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = f[3] + f[4];
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: ((total - idle) * 1000) / CLOCK_TICKS, total: (total * 1000) / CLOCK_TICKS };
}

/** Pids whose command name is `comm` (e.g. redis-server). */
export function pidsByName(comm) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === comm) out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * Postgres processes whose work is ours: the backends serving `database` (their title names it:
 * "postgres: <cluster>: <user> <db> <host>(<port>) <state>") and the server's own processes
 * (postmaster, WAL writer, checkpointer, ...: shared, and driven by whoever writes). Backends of
 * other databases are other people's.
 */
export function postgresPids(database) {
  return pidsByName('postgres').filter((pid) => {
    let title = '';
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      return false;
    }
    const backend = / \S+ \S+ (\S+\(\d+\)|\[local\])/.test(title);
    return !backend || title.split(' ').includes(database);
  });
}

/** Linux reports process times in USER_HZ ticks, 100 per second on every mainstream platform. */
const CLOCK_TICKS = 100;
