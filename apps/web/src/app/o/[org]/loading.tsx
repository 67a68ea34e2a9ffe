import { Skeleton } from '@/components/ui';

export default function Loading() {
  return (
    <div className="card">
      <Skeleton lines={5} />
    </div>
  );
}
