"""community: scopes, moderation, images, invitations, reports, settings

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-01

The spec's seven community tables gain what a school feed for children needs:
a post is seen by the school, one class or one study group; posts and comments
are taken away by moderators (or their authors) with who, when and why,
instead of being deleted; a student's post can wait for approval; up to four
pictures per post; an embedded coding submission; events in the school's
time zone with a capacity that the database also guards. New tables: post
images, group invitations, reports and the school's community settings.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

GONE = "'hidden', 'removed', 'deleted'"
MODERATION = (f"(status IN ({GONE})) = (moderated_at IS NOT NULL) AND "
              "(status NOT IN ('hidden', 'removed') OR moderation_reason IS NOT NULL)")
SCOPE_TARGET = ("(scope = 'school' AND class_id IS NULL AND group_id IS NULL) OR "
                "(scope = 'class' AND class_id IS NOT NULL AND group_id IS NULL) OR "
                "(scope = 'group' AND group_id IS NOT NULL AND class_id IS NULL)")


def _moderation_columns(batch_op):
    batch_op.add_column(sa.Column('content_html', sa.Text(), server_default='', nullable=False))
    batch_op.add_column(sa.Column('status', sa.String(length=20), server_default='published', nullable=False))
    batch_op.add_column(sa.Column('moderated_by', sa.Uuid(), nullable=True))
    batch_op.add_column(sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True))
    batch_op.add_column(sa.Column('moderation_reason', sa.Text(), nullable=True))


def upgrade():
    with op.batch_alter_table('community_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('join_policy', sa.String(length=20), server_default='open', nullable=False))
        batch_op.add_column(sa.Column('reviewed_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(op.f('fk_community_groups_reviewed_by_users'), 'users', ['reviewed_by'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_community_groups_status'),
                                         "status IN ('requested', 'active', 'rejected')")
        batch_op.create_check_constraint(op.f('ck_community_groups_join_policy'),
                                         "join_policy IN ('open', 'invitation')")
        batch_op.create_check_constraint(op.f('ck_community_groups_members_count'), 'members_count >= 0')

    with op.batch_alter_table('community_posts', schema=None) as batch_op:
        _moderation_columns(batch_op)
        batch_op.add_column(sa.Column('scope', sa.String(length=20), server_default='school', nullable=False))
        batch_op.add_column(sa.Column('class_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('group_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('approved_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('coding_submission_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('likes_notified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('drawing', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                        'postgresql'), nullable=True))
        batch_op.create_foreign_key(op.f('fk_community_posts_class_id_classes'), 'classes', ['class_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_foreign_key(op.f('fk_community_posts_group_id_community_groups'), 'community_groups',
                                    ['group_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(op.f('fk_community_posts_moderated_by_users'), 'users', ['moderated_by'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(op.f('fk_community_posts_approved_by_users'), 'users', ['approved_by'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(op.f('fk_community_posts_coding_submission_id_coding_submissions'),
                                    'coding_submissions', ['coding_submission_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_community_posts_scope'), "scope IN ('school', 'class', 'group')")
        batch_op.create_check_constraint(op.f('ck_community_posts_scope_target'), SCOPE_TARGET)
        batch_op.create_check_constraint(op.f('ck_community_posts_status'),
                                         "status IN ('pending', 'published', 'hidden', 'removed', 'deleted')")
        batch_op.create_check_constraint(op.f('ck_community_posts_moderation'), MODERATION)
        batch_op.create_check_constraint(op.f('ck_community_posts_counters'),
                                         'likes_count >= 0 AND comments_count >= 0')
        batch_op.create_index('idx_community_posts_feed', ['created_at', 'id'], unique=False)
        batch_op.create_index('idx_community_posts_group', ['group_id'], unique=False)
        batch_op.create_index('idx_community_posts_class', ['class_id'], unique=False)
        batch_op.create_index('idx_community_posts_status', ['status'], unique=False)

    with op.batch_alter_table('community_comments', schema=None) as batch_op:
        _moderation_columns(batch_op)
        batch_op.create_foreign_key(op.f('fk_community_comments_moderated_by_users'), 'users', ['moderated_by'],
                                    ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_community_comments_status'),
                                         "status IN ('published', 'hidden', 'removed', 'deleted')")
        batch_op.create_check_constraint(op.f('ck_community_comments_moderation'), MODERATION)
        batch_op.create_index('idx_comments_post_created', ['post_id', 'created_at', 'id'], unique=False)

    with op.batch_alter_table('community_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('online', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('capacity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reminder_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(op.f('ck_community_events_times'), 'end_time > start_time')
        batch_op.create_check_constraint(op.f('ck_community_events_capacity'), 'capacity IS NULL OR capacity > 0')
        batch_op.create_check_constraint(
            op.f('ck_community_events_attendees_within_capacity'),
            'attendees_count >= 0 AND (capacity IS NULL OR attendees_count <= capacity)')
        batch_op.create_index('idx_community_events_date', ['event_date'], unique=False)

    op.create_table(
        'community_post_images',
        sa.Column('post_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('storage_key', sa.String(length=500), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('position >= 0 AND position < 4', name=op.f('ck_community_post_images_position')),
        sa.ForeignKeyConstraint(['post_id'], ['community_posts.id'],
                                name=op.f('fk_community_post_images_post_id_community_posts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_community_post_images')),
        sa.UniqueConstraint('post_id', 'position', name=op.f('uq_community_post_images_post_id_position')),
        sa.UniqueConstraint('storage_key', name=op.f('uq_community_post_images_storage_key')),
    )
    op.create_table(
        'community_group_invitations',
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('invited_by', sa.Uuid(), nullable=True),
        sa.Column('kind', sa.String(length=20), server_default='invitation', nullable=False),
        sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'declined')",
                           name=op.f('ck_community_group_invitations_status')),
        sa.CheckConstraint("kind IN ('invitation', 'request')", name=op.f('ck_community_group_invitations_kind')),
        sa.ForeignKeyConstraint(['group_id'], ['community_groups.id'],
                                name=op.f('fk_community_group_invitations_group_id_community_groups'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_community_group_invitations_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_by'], ['users.id'],
                                name=op.f('fk_community_group_invitations_invited_by_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_community_group_invitations')),
        sa.UniqueConstraint('group_id', 'user_id', name=op.f('uq_community_group_invitations_group_id_user_id')),
    )
    op.create_index('idx_group_invitations_user', 'community_group_invitations', ['user_id'], unique=False)
    op.create_table(
        'community_reports',
        sa.Column('post_id', sa.Uuid(), nullable=True),
        sa.Column('comment_id', sa.Uuid(), nullable=True),
        sa.Column('reporter_id', sa.Uuid(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
        sa.Column('resolved_by', sa.Uuid(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('(post_id IS NULL) <> (comment_id IS NULL)', name=op.f('ck_community_reports_one_target')),
        sa.CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name=op.f('ck_community_reports_status')),
        sa.ForeignKeyConstraint(['post_id'], ['community_posts.id'],
                                name=op.f('fk_community_reports_post_id_community_posts'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['comment_id'], ['community_comments.id'],
                                name=op.f('fk_community_reports_comment_id_community_comments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_community_reports_reporter_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], name=op.f('fk_community_reports_resolved_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_community_reports')),
        sa.UniqueConstraint('reporter_id', 'post_id', name=op.f('uq_community_reports_reporter_id_post_id')),
        sa.UniqueConstraint('reporter_id', 'comment_id', name=op.f('uq_community_reports_reporter_id_comment_id')),
    )
    op.create_index('idx_community_reports_status', 'community_reports', ['status'], unique=False)
    op.create_table(
        'community_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('posts_need_approval', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('muted_words', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  server_default='[]', nullable=False),
        sa.Column('updated_by', sa.Uuid(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_community_settings_single_row')),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_community_settings_updated_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_community_settings')),
    )


def downgrade():
    op.drop_table('community_settings')
    op.drop_index('idx_community_reports_status', table_name='community_reports')
    op.drop_table('community_reports')
    op.drop_index('idx_group_invitations_user', table_name='community_group_invitations')
    op.drop_table('community_group_invitations')
    op.drop_table('community_post_images')

    with op.batch_alter_table('community_events', schema=None) as batch_op:
        batch_op.drop_index('idx_community_events_date')
        batch_op.drop_constraint(op.f('ck_community_events_attendees_within_capacity'), type_='check')
        batch_op.drop_constraint(op.f('ck_community_events_capacity'), type_='check')
        batch_op.drop_constraint(op.f('ck_community_events_times'), type_='check')
        batch_op.drop_column('reminder_sent_at')
        batch_op.drop_column('capacity')
        batch_op.drop_column('online')

    with op.batch_alter_table('community_comments', schema=None) as batch_op:
        batch_op.drop_index('idx_comments_post_created')
        batch_op.drop_constraint(op.f('ck_community_comments_moderation'), type_='check')
        batch_op.drop_constraint(op.f('ck_community_comments_status'), type_='check')
        batch_op.drop_constraint(op.f('fk_community_comments_moderated_by_users'), type_='foreignkey')
        for column in ('moderation_reason', 'moderated_at', 'moderated_by', 'status', 'content_html'):
            batch_op.drop_column(column)

    with op.batch_alter_table('community_posts', schema=None) as batch_op:
        for index in ('idx_community_posts_status', 'idx_community_posts_class', 'idx_community_posts_group',
                      'idx_community_posts_feed'):
            batch_op.drop_index(index)
        for check in ('counters', 'moderation', 'status', 'scope_target', 'scope'):
            batch_op.drop_constraint(op.f(f'ck_community_posts_{check}'), type_='check')
        for fk in ('coding_submission_id_coding_submissions', 'approved_by_users', 'moderated_by_users',
                   'group_id_community_groups', 'class_id_classes'):
            batch_op.drop_constraint(op.f(f'fk_community_posts_{fk}'), type_='foreignkey')
        for column in ('drawing', 'likes_notified_at', 'coding_submission_id', 'approved_by', 'group_id', 'class_id',
                       'scope',
                       'moderation_reason', 'moderated_at', 'moderated_by', 'status', 'content_html'):
            batch_op.drop_column(column)

    with op.batch_alter_table('community_groups', schema=None) as batch_op:
        for check in ('members_count', 'join_policy', 'status'):
            batch_op.drop_constraint(op.f(f'ck_community_groups_{check}'), type_='check')
        batch_op.drop_constraint(op.f('fk_community_groups_reviewed_by_users'), type_='foreignkey')
        for column in ('reviewed_at', 'reviewed_by', 'join_policy', 'status'):
            batch_op.drop_column(column)
