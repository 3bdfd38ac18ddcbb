"""credit adjustment keys

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

A credit adjustment carries the idempotency key of the form that sent it
(generated when the form is shown): a double tap or a re-sent post finds the
key already used and changes nothing. The unique constraint is the last guard
when two identical posts race.

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credit_adjustments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_credit_adjustments_idempotency_key'), ['idempotency_key'])


def downgrade():
    with op.batch_alter_table('credit_adjustments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_credit_adjustments_idempotency_key'), type_='unique')
        batch_op.drop_column('idempotency_key')
