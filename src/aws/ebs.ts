/**
 * EBS direct API adapter (DESIGN.md section 7): what a completed snapshot holds, to verify a
 * snapshot before a volume is rebuilt from it in another AZ. Pages cover ranges of block
 * indexes, not counts of results: a page may be empty and still carry a NextToken, so every
 * listing loops until the token is gone.
 */
import { ListChangedBlocksCommand, ListSnapshotBlocksCommand, type EBSClient } from '@aws-sdk/client-ebs';
import type { EbsDirect } from '../ports.js';
import { cloudError } from './errors.js';
import { FleetError } from '../errors.js';

/** A listing that keeps answering pages is a bug (ours or the service's), not a big snapshot. */
const MAX_PAGES = 1_000_000;

export function createEbsDirect(client: EBSClient): EbsDirect {
  return {
    async snapshotBlocks(snapshotId: string) {
      let token: string | undefined;
      let blocks = 0;
      let pages = 0;
      let volumeSizeGiB = 0;
      let blockSize = 0;
      do {
        let res;
        try {
          res = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, MaxResults: 10_000, ...(token ? { NextToken: token } : {}) }));
        } catch (err) {
          throw cloudError(`listing the blocks of ${snapshotId}`, err);
        }
        pages++;
        blocks += res.Blocks?.length ?? 0;
        if (res.VolumeSize !== undefined) volumeSizeGiB = res.VolumeSize;
        if (res.BlockSize !== undefined) blockSize = res.BlockSize;
        const next = res.NextToken || undefined;
        if (next !== undefined && next === token) throw new FleetError(`listing the blocks of ${snapshotId}: the service returned the same page token twice`);
        token = next;
        if (pages > MAX_PAGES) throw new FleetError(`listing the blocks of ${snapshotId}: more than ${MAX_PAGES} pages`);
      } while (token);
      return { blocks, volumeSizeGiB, blockSize, pages };
    },

    async changedBlocks(firstSnapshotId: string, secondSnapshotId: string) {
      let token: string | undefined;
      let changed = 0;
      let pages = 0;
      do {
        let res;
        try {
          res = await client.send(
            new ListChangedBlocksCommand({ FirstSnapshotId: firstSnapshotId, SecondSnapshotId: secondSnapshotId, MaxResults: 10_000, ...(token ? { NextToken: token } : {}) }),
          );
        } catch (err) {
          throw cloudError(`listing the blocks changed from ${firstSnapshotId} to ${secondSnapshotId}`, err);
        }
        pages++;
        changed += res.ChangedBlocks?.length ?? 0;
        const next = res.NextToken || undefined;
        if (next !== undefined && next === token) throw new FleetError(`listing changed blocks of ${secondSnapshotId}: the service returned the same page token twice`);
        token = next;
        if (pages > MAX_PAGES) throw new FleetError(`listing changed blocks of ${secondSnapshotId}: more than ${MAX_PAGES} pages`);
      } while (token);
      return { changed, pages };
    },
  };
}
