"""Datasets people fill through the API.

- dataset_images.checksum_sha256: the image file's checksum, unique per dataset, so
  the same picture uploaded twice (two tabs, a retried request) is one image.
- datasets.image_count: kept by the owner's own transactions, which add or remove
  images and recount under the dataset's row lock (users may now update it).
- training_jobs.dataset_id: ON DELETE SET NULL instead of RESTRICT. People must be able
  to delete their pictures (privacy outranks history): a finished run keeps its loss
  history and trained model and says its dataset is gone. A dataset with a run still
  queued or training is refused by the service instead (datasets/service.py).

Revision ID: 0026
Revises: 0025
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        ALTER TABLE public.dataset_images ADD COLUMN checksum_sha256 text
            CONSTRAINT dataset_images_checksum_format CHECK (checksum_sha256 ~ '^[0-9a-f]{64}$');
        CREATE UNIQUE INDEX dataset_images_dataset_checksum_key
            ON public.dataset_images (dataset_id, checksum_sha256);
        GRANT INSERT (checksum_sha256) ON public.dataset_images TO authenticated;
        GRANT UPDATE (image_count) ON public.datasets TO authenticated;

        ALTER TABLE public.training_jobs ALTER COLUMN dataset_id DROP NOT NULL;
        ALTER TABLE public.training_jobs DROP CONSTRAINT training_jobs_dataset_id_fkey;
        ALTER TABLE public.training_jobs ADD CONSTRAINT training_jobs_dataset_id_fkey
            FOREIGN KEY (dataset_id) REFERENCES public.datasets (id) ON DELETE SET NULL;
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        DELETE FROM public.training_jobs WHERE dataset_id IS NULL;
        ALTER TABLE public.training_jobs DROP CONSTRAINT training_jobs_dataset_id_fkey;
        ALTER TABLE public.training_jobs ADD CONSTRAINT training_jobs_dataset_id_fkey
            FOREIGN KEY (dataset_id) REFERENCES public.datasets (id) ON DELETE RESTRICT;
        ALTER TABLE public.training_jobs ALTER COLUMN dataset_id SET NOT NULL;

        REVOKE UPDATE (image_count) ON public.datasets FROM authenticated;
        REVOKE INSERT (checksum_sha256) ON public.dataset_images FROM authenticated;
        DROP INDEX public.dataset_images_dataset_checksum_key;
        ALTER TABLE public.dataset_images DROP COLUMN checksum_sha256;
        """
    )
