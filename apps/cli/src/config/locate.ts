import { isNode, type Document, type LineCounter } from 'yaml';

/**
 * Where `path` is in the document: the node it names, or, for something missing, the nearest
 * node above it (a missing `command` is reported at its server). 1-based line and column.
 */
export function locate(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, col };
    }
  }
  return { line: 1, col: 1 };
}
