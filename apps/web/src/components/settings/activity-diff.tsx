import type { FieldChange } from './activity-format';

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

/** Before and after of an activity entry side by side, one row per changed field. */
export function ActivityDiff({ changes }: { changes: FieldChange[] }) {
  return (
    <table className="diff" data-testid="activity-diff">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr key={c.field} data-field={c.field}>
            <th scope="row" className="mono">
              {c.field || 'value'}
            </th>
            <td>{'before' in c ? <del>{show(c.before)}</del> : <span className="muted">—</span>}</td>
            <td>{'after' in c ? <ins>{show(c.after)}</ins> : <span className="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
