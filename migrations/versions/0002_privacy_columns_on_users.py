"""privacy columns on users

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

users.deletion_requested_at and users.erased_at: a user can ask for their
account to be deleted; a super_admin erases it by anonymising the row.
users.email is stored lower-case (CHECK), so lookups use the unique index.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deletion_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(op.f('ck_users_email_lowercase'), 'email = lower(email)')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_email_lowercase'), type_='check')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('deletion_requested_at')


