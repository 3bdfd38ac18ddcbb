"""user sessions and the email outbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

user_sessions: one row per signed-in device; the session and remember-me
cookies carry its id and every request checks it, so signing out ends the
session on the server and a person can sign out their other devices.
outbound_emails: account emails written in the use case that sends them,
sent once by a job (row lock, status) and re-queued by the sweep when Redis
lost the job.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index('idx_user_sessions_user', ['user_id', 'last_seen_at'], unique=False)

    op.create_table('outbound_emails',
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('to_address', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'sent')", name=op.f('ck_outbound_emails_status')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outbound_emails_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_emails'))
    )
    with op.batch_alter_table('outbound_emails', schema=None) as batch_op:
        batch_op.create_index('idx_outbound_emails_pending', ['created_at'], unique=False,
                              postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index(batch_op.f('ix_outbound_emails_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbound_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_emails_user_id'))
        batch_op.drop_index('idx_outbound_emails_pending', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('outbound_emails')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index('idx_user_sessions_user')
    op.drop_table('user_sessions')
