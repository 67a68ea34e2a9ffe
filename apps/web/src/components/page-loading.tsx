import { Skeleton } from '@/components/ui';

/**
 * The placeholder a page segment streams while its data loads. Only pages that cannot answer
 * 404 use it (`loading.tsx` in list segments, detail pages have none): once the placeholder has
 * streamed, the response status is fixed at 200, so an unknown id could no longer be a 404.
 */
export function PageLoading() {
  return (
    <div className="card">
      <Skeleton lines={5} />
    </div>
  );
}
