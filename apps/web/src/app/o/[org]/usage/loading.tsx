import { Skeleton } from '@/components/ui';

export default function Loading() {
  return (
    <>
      <div className="page-header">
        <h1>Usage</h1>
      </div>
      <div className="card">
        <Skeleton lines={3} />
      </div>
      <div className="card">
        <Skeleton lines={6} />
      </div>
    </>
  );
}
