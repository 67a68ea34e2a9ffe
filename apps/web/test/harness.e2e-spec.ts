import { execFileSync } from 'node:child_process';

/** The browser-test harness itself: nothing a failed beforeAll started may be left running. */
describe('launchWith (a spec starts its stack and Chromium together)', () => {
  const saved = process.env.CHROMIUM_PATH;
  afterEach(() => {
    if (saved === undefined) delete process.env.CHROMIUM_PATH;
    else process.env.CHROMIUM_PATH = saved;
  });
  /** Chromium processes started by this test process (playwright's direct children). */
  const chromiumChildren = () =>
    execFileSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((c) => /chrom/i.test(c));

  it('stops what was started when Chromium cannot be launched, and rethrows', async () => {
    process.env.CHROMIUM_PATH = '/nonexistent/chromium';
    let browser!: typeof import('./browser');
    jest.isolateModules(() => {
      browser = require('./browser');
    });
    const stopped: string[] = [];
    await expect(
      browser.launchWith(Promise.resolve('the stack'), async (s) => {
        stopped.push(s);
      }),
    ).rejects.toThrow(/Chromium not found at \/nonexistent\/chromium/);
    expect(stopped).toEqual(['the stack']);
  });

  it('closes Chromium when the stack cannot be started, and rethrows', async () => {
    const { launchWith } = require('./browser') as typeof import('./browser');
    const stop = jest.fn(async () => undefined);
    await expect(launchWith(Promise.reject(new Error('the API did not come up')), stop)).rejects.toThrow('the API did not come up');
    expect(stop).not.toHaveBeenCalled();
    expect(chromiumChildren()).toEqual([]);
  });

  it('hands both over when both start', async () => {
    const { launchWith } = require('./browser') as typeof import('./browser');
    const [stack, browser] = await launchWith(Promise.resolve('the stack'), async () => undefined);
    try {
      expect(stack).toBe('the stack');
      expect(browser.isConnected()).toBe(true);
      expect(chromiumChildren().length).toBeGreaterThan(0);
    } finally {
      await browser.close();
    }
  });
});
