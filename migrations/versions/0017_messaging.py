"""messaging: conversation members, class conversations, moderation and audit

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-01

The spec's `conversations.participant_1/participant_2` cannot hold a class
conversation, and `messages.read_at` cannot say who read what in a group.
Existing rows are kept: every spec conversation becomes a `direct`
conversation with two members (its pair stored in order as `direct_key`), and
each member's read pointer starts at the newest message they sent or (for
the recipient) that was marked read. Every existing class gets its class
conversation, with its active students and its instructor as members.
"""
import html
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def _now():
    return datetime.now(timezone.utc)


conversations = sa.table(
    'conversations', sa.column('id', sa.Uuid()), sa.column('participant_1', sa.Uuid()),
    sa.column('participant_2', sa.Uuid()), sa.column('kind', sa.String()), sa.column('class_id', sa.Uuid()),
    sa.column('direct_key', sa.String()), sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('last_message_at', sa.DateTime(timezone=True)))
members = sa.table(
    'conversation_members', sa.column('id', sa.Uuid()), sa.column('conversation_id', sa.Uuid()),
    sa.column('user_id', sa.Uuid()), sa.column('last_read_message_id', sa.Uuid()),
    sa.column('muted', sa.Boolean()), sa.column('joined_at', sa.DateTime(timezone=True)))
messages = sa.table(
    'messages', sa.column('id', sa.Uuid()), sa.column('conversation_id', sa.Uuid()), sa.column('sender_id', sa.Uuid()),
    sa.column('content', sa.Text()), sa.column('content_html', sa.Text()),
    sa.column('read_at', sa.DateTime(timezone=True)), sa.column('created_at', sa.DateTime(timezone=True)))
classes = sa.table('classes', sa.column('id', sa.Uuid()), sa.column('instructor_id', sa.Uuid()),
                   sa.column('created_at', sa.DateTime(timezone=True)))
enrollments = sa.table('class_enrollments', sa.column('class_id', sa.Uuid()), sa.column('student_id', sa.Uuid()),
                       sa.column('status', sa.String()))


def _sqlite_keys_off(bind):
    # SQLite's batch mode rebuilds `conversations` and `messages` (copy, drop, rename): with foreign keys on,
    # dropping the old table would cascade into the rows that point at it. (A no-op inside a transaction that
    # already wrote, as on a fresh database: there is nothing to lose there.)
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql("PRAGMA foreign_keys=OFF")


def upgrade():
    bind = op.get_bind()
    _sqlite_keys_off(bind)
    op.create_table('conversation_members',
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('last_read_message_id', sa.Uuid(), nullable=True),
    sa.Column('muted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('digested_through', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                            name=op.f('fk_conversation_members_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_read_message_id'], ['messages.id'],
                            name=op.f('fk_conversation_members_last_read_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_conversation_members_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_members')),
    sa.UniqueConstraint('conversation_id', 'user_id', name=op.f('uq_conversation_members_conversation_id_user_id'))
    )
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.create_index('idx_conversation_members_user', ['user_id'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='direct', nullable=False))
        batch_op.add_column(sa.Column('class_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('direct_key', sa.String(length=80), nullable=True))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_html', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('deletion_reason', sa.Text(), nullable=True))

    # Existing rows: pairs become direct conversations with two members.
    for cid, p1, p2 in bind.execute(sa.select(conversations.c.id, conversations.c.participant_1,
                                              conversations.c.participant_2)).all():
        first, second = sorted((str(p1), str(p2)))
        bind.execute(conversations.update().where(conversations.c.id == cid)
                     .values(direct_key=f"{first}:{second}", kind='direct'))
        rows = bind.execute(sa.select(messages.c.id, messages.c.sender_id, messages.c.read_at)
                            .where(messages.c.conversation_id == cid)
                            .order_by(messages.c.created_at, messages.c.id)).all()
        for user_id in (p1, p2):
            pointer = None
            for message_id, sender_id, read_at in rows:
                if sender_id == user_id or read_at is not None:
                    pointer = message_id
            bind.execute(members.insert().values(id=uuid.uuid4(), conversation_id=cid, user_id=user_id,
                                                 last_read_message_id=pointer, muted=False, joined_at=_now()))
    for message_id, content in bind.execute(sa.select(messages.c.id, messages.c.content)).all():
        text = html.escape(content or "").replace("\n", "<br>")
        bind.execute(messages.update().where(messages.c.id == message_id).values(content_html=f"<p>{text}</p>"))

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('idx_conversations_participants')
        batch_op.drop_constraint(op.f('uq_conversations_participant_1_participant_2'), type_='unique')
        batch_op.drop_constraint(op.f('ck_conversations_distinct_participants'), type_='check')
        batch_op.drop_constraint(op.f('fk_conversations_participant_1_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_conversations_participant_2_users'), type_='foreignkey')
        batch_op.drop_column('participant_1')
        batch_op.drop_column('participant_2')
        batch_op.create_unique_constraint(op.f('uq_conversations_class_id'), ['class_id'])
        batch_op.create_unique_constraint(op.f('uq_conversations_direct_key'), ['direct_key'])
        batch_op.create_foreign_key(op.f('fk_conversations_class_id_classes'), 'classes', ['class_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_check_constraint(op.f('ck_conversations_kind'), "kind IN ('direct', 'class')")
        batch_op.create_check_constraint(
            op.f('ck_conversations_kind_key'),
            "(kind = 'direct' AND direct_key IS NOT NULL AND class_id IS NULL) OR "
            "(kind = 'class' AND class_id IS NOT NULL AND direct_key IS NULL)")
        batch_op.create_index('idx_conversations_last_message', ['last_message_at'], unique=False)

    # Every existing class gets its conversation (now that a row needs no pair): its active students and its
    # instructor.
    for class_id, instructor_id in bind.execute(sa.select(classes.c.id, classes.c.instructor_id)).all():
        cid = uuid.uuid4()
        bind.execute(conversations.insert().values(id=cid, kind='class', class_id=class_id, created_at=_now()))
        people = [student for (student,) in bind.execute(sa.select(enrollments.c.student_id).where(
            enrollments.c.class_id == class_id, enrollments.c.status == 'active'))]
        if instructor_id is not None:
            people.append(instructor_id)
        for user_id in dict.fromkeys(people):
            bind.execute(members.insert().values(id=uuid.uuid4(), conversation_id=cid, user_id=user_id,
                                                 muted=False, joined_at=_now()))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('idx_messages_conversation')
        batch_op.drop_column('read_at')
        batch_op.drop_column('attachments')
        batch_op.create_foreign_key(op.f('fk_messages_deleted_by_users'), 'users', ['deleted_by'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_check_constraint(
            op.f('ck_messages_deletion'),
            "deleted_at IS NOT NULL OR (deleted_by IS NULL AND deletion_reason IS NULL)")
        batch_op.create_index('idx_messages_conversation_created', ['conversation_id', 'created_at', 'id'],
                              unique=False)

    op.create_table('message_attachments',
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('storage_key', sa.String(length=500), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_attachments_message_id_messages'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_attachments')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_message_attachments_storage_key'))
    )
    with op.batch_alter_table('message_attachments', schema=None) as batch_op:
        batch_op.create_index('idx_message_attachments_message', ['message_id'], unique=False)

    op.create_table('message_reports',
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('reporter_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('resolved_by', sa.Uuid(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_message_reports_status')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_reports_message_id_messages'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_message_reports_reporter_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by'], ['users.id'], name=op.f('fk_message_reports_resolved_by_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_reports')),
    sa.UniqueConstraint('message_id', 'reporter_id', name=op.f('uq_message_reports_message_id_reporter_id'))
    )
    with op.batch_alter_table('message_reports', schema=None) as batch_op:
        batch_op.create_index('idx_message_reports_status', ['status', 'created_at'], unique=False)

    op.create_table('user_blocks',
    sa.Column('blocker_id', sa.Uuid(), nullable=False),
    sa.Column('blocked_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('blocker_id <> blocked_id', name=op.f('ck_user_blocks_not_self')),
    sa.ForeignKeyConstraint(['blocked_id'], ['users.id'], name=op.f('fk_user_blocks_blocked_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['blocker_id'], ['users.id'], name=op.f('fk_user_blocks_blocker_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_blocks')),
    sa.UniqueConstraint('blocker_id', 'blocked_id', name=op.f('uq_user_blocks_blocker_id_blocked_id'))
    )
    with op.batch_alter_table('user_blocks', schema=None) as batch_op:
        batch_op.create_index('idx_user_blocks_blocked', ['blocked_id'], unique=False)

    op.create_table('conversation_read_audits',
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('reader_id', sa.Uuid(), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                            name=op.f('fk_conversation_read_audits_conversation_id_conversations'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reader_id'], ['users.id'], name=op.f('fk_conversation_read_audits_reader_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_read_audits'))
    )
    with op.batch_alter_table('conversation_read_audits', schema=None) as batch_op:
        batch_op.create_index('idx_conversation_read_audits_read_at', ['read_at'], unique=False)


def downgrade():
    bind = op.get_bind()
    _sqlite_keys_off(bind)
    op.drop_table('conversation_read_audits')
    op.drop_table('user_blocks')
    op.drop_table('message_reports')
    op.drop_table('message_attachments')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('idx_messages_conversation_created')
        batch_op.drop_constraint(op.f('ck_messages_deletion'), type_='check')
        batch_op.drop_constraint(op.f('fk_messages_deleted_by_users'), type_='foreignkey')
        batch_op.add_column(sa.Column('attachments', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_1', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('participant_2', sa.Uuid(), nullable=True))

    # Back to pairs: class conversations (and their messages) cannot be kept in the spec's shape.
    bind.execute(conversations.delete().where(conversations.c.kind == 'class'))
    for cid, key in bind.execute(sa.select(conversations.c.id, conversations.c.direct_key)).all():
        first, second = key.split(":")
        bind.execute(conversations.update().where(conversations.c.id == cid)
                     .values(participant_1=uuid.UUID(first), participant_2=uuid.UUID(second)))
    op.drop_table('conversation_members')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('idx_conversations_last_message')
        batch_op.drop_constraint(op.f('ck_conversations_kind_key'), type_='check')
        batch_op.drop_constraint(op.f('ck_conversations_kind'), type_='check')
        batch_op.drop_constraint(op.f('fk_conversations_class_id_classes'), type_='foreignkey')
        batch_op.drop_constraint(op.f('uq_conversations_direct_key'), type_='unique')
        batch_op.drop_constraint(op.f('uq_conversations_class_id'), type_='unique')
        batch_op.drop_column('direct_key')
        batch_op.drop_column('class_id')
        batch_op.drop_column('kind')
        batch_op.alter_column('participant_1', existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column('participant_2', existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(op.f('fk_conversations_participant_1_users'), 'users', ['participant_1'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_foreign_key(op.f('fk_conversations_participant_2_users'), 'users', ['participant_2'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_check_constraint(op.f('ck_conversations_distinct_participants'),
                                         'participant_1 <> participant_2')
        batch_op.create_unique_constraint(op.f('uq_conversations_participant_1_participant_2'),
                                          ['participant_1', 'participant_2'])
        batch_op.create_index('idx_conversations_participants', ['participant_1', 'participant_2'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('deletion_reason')
        batch_op.drop_column('deleted_by')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('content_html')
        batch_op.create_index('idx_messages_conversation', ['conversation_id'], unique=False)
