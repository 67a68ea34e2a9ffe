import { isMap, isNode, isScalar, type Document, type LineCounter } from 'yaml';

/**
 * Where `path` is in the document: the node it names, or, for something missing, the nearest
 * node above it (a missing `command` is reported at its server). 1-based line and column.
 */
export function locate(
  doc: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
  at: 'value' | 'key' = 'value',
): { line: number; col: number } {
  if (at === 'key' && path.length > 0) {
    // A bad name is reported where the name is written, not at what it names.
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true);
    const name = path[path.length - 1];
    const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === name) : undefined;
    if (pair && isScalar(pair.key) && pair.key.range) return lines.linePos(pair.key.range[0]);
  }
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, col };
    }
  }
  return { line: 1, col: 1 };
}
