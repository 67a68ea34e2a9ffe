import { Skeleton } from '@/components/ui';

export default function Loading() {
  return (
    <>
      <div className="page-header">
        <h1>Billing</h1>
      </div>
      <div className="card">
        <Skeleton lines={2} />
      </div>
      <div className="card">
        <Skeleton lines={5} />
      </div>
    </>
  );
}
