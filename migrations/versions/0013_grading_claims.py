"""coding_submissions.grading_claimed_at

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-01

Grading is claim → run → store: a job claims an ungraded submission in a short
transaction (compare-and-set on this column), runs the sandbox holding no
transaction or row lock, and stores the result only if the submission is still
ungraded. A claim older than the grading job's timeout has run out (its worker
was killed), so the sweep's job may claim it again.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('coding_submissions', sa.Column('grading_claimed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('coding_submissions', 'grading_claimed_at')
