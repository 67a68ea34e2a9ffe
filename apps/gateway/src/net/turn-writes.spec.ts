import { Writable } from 'node:stream';
import { holdForTurn } from './turn-writes';

/** A stream that records each system-call-sized write it is handed (one entry per _write/_writev). */
function recorder() {
  const writes: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map((c) => String(c.chunk)));
      done();
    },
  });
  return { stream, writes };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('holdForTurn', () => {
  it("sends one turn's writes as one, in order, once the turn ends", async () => {
    const { stream, writes } = recorder();
    for (const m of ['a', 'b', 'c']) {
      holdForTurn(stream);
      stream.write(m);
    }
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('holds nothing past its turn: a later turn writes on its own', async () => {
    const { stream, writes } = recorder();
    holdForTurn(stream);
    stream.write('first');
    await nextTurn();
    holdForTurn(stream);
    stream.write('second');
    await nextTurn();
    stream.write('unheld');
    expect(writes).toEqual([['first'], ['second'], ['unheld']]);
  });

  it('leaves a destroyed stream alone', () => {
    const { stream } = recorder();
    stream.destroy();
    expect(() => holdForTurn(stream)).not.toThrow();
    expect(stream.writableCorked).toBe(0);
  });
});
