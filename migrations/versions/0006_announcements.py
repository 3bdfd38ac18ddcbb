"""announcements and notifications

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-25

announcements.content_html (the Markdown rendered and sanitised when saved)
and announcements.cancelled_at (a scheduled one withdrawn; never both sent and
cancelled). notifications.link (where it leads), event_key (unique per user:
one notification per person per event, whatever retries or races happen),
email_status/emailed_at (the email's own state, so a lost job is re-queued and
a doubled one sends nothing). notification_preferences: email on or off per
kind and person. users.language: the language of a person's emails (NULL: the
school's DEFAULT_LOCALE).

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_preferences',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=100), nullable=False),
    sa.Column('email', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preferences')),
    sa.UniqueConstraint('user_id', 'kind', name=op.f('uq_notification_preferences_user_id_kind'))
    )
    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_html', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('idx_announcements_due', ['sent_at', 'scheduled_at'], unique=False)
        batch_op.create_check_constraint(op.f('ck_announcements_sent_or_cancelled'),
                                         'sent_at IS NULL OR cancelled_at IS NULL')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('event_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('email_status', sa.String(length=20), server_default='none', nullable=False))
        batch_op.add_column(sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('idx_notifications_email_status', ['email_status'], unique=False)
        batch_op.create_index('idx_notifications_reference', ['reference_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_notifications_user_id_event_key'), ['user_id', 'event_key'])
        batch_op.create_check_constraint(op.f('ck_notifications_email_status'),
                                         "email_status IN ('none', 'pending', 'sent', 'skipped')")

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=5), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_email_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_notifications_user_id_event_key'), type_='unique')
        batch_op.drop_index('idx_notifications_reference')
        batch_op.drop_index('idx_notifications_email_status')
        batch_op.drop_column('emailed_at')
        batch_op.drop_column('email_status')
        batch_op.drop_column('event_key')
        batch_op.drop_column('link')

    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_announcements_sent_or_cancelled'), type_='check')
        batch_op.drop_index('idx_announcements_due')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('content_html')

    op.drop_table('notification_preferences')
