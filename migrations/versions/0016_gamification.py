"""gamification: an idempotent XP ledger, badges by slug, class leaderboards, streak repairs

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01

xp_transactions becomes a ledger that cannot award twice: UNIQUE (user_id,
reason, reference_id) with both NOT NULL, a CHECK on the reasons, the class the
work was done in (its leaderboard) and the audit of staff bonuses. user_levels
keeps only the cache total_xp (the level is derived from the curve in
settings; streaks are computed from the ledger when read, so current_level,
current_streak and last_activity_date are dropped) plus the student's
leaderboard opt-out and time zone. Badges get a unique slug, a non-null rarity
and criteria, and the XP they give; a user's badge may be shared as an Open
Badges assertion. New: class_leaderboards (mode per class) and streak_repairs
(days an outage made count for everyone).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

REASONS = ("'exercise_completed', 'lesson_completed', 'quiz_passed', 'coding_passed', 'assignment_graded', "
           "'attendance', 'streak_milestone', 'badge', 'bonus', 'community_post'")


def upgrade():
    # Rows nothing could have written with meaning (no reason or no reference) cannot be kept unique.
    op.execute("DELETE FROM xp_transactions WHERE reason IS NULL OR reference_id IS NULL OR amount = 0")
    op.execute(f"DELETE FROM xp_transactions WHERE reason NOT IN ({REASONS})")
    with op.batch_alter_table('xp_transactions', schema=None) as batch_op:
        batch_op.alter_column('reason', existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column('reference_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.add_column(sa.Column('class_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('source_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('awarded_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_xp_transactions_class_id_classes'), 'classes', ['class_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(op.f('fk_xp_transactions_awarded_by_users'), 'users', ['awarded_by'], ['id'])
        batch_op.create_unique_constraint(op.f('uq_xp_transactions_user_id_reason_reference_id'),
                                          ['user_id', 'reason', 'reference_id'])
        batch_op.create_check_constraint(op.f('ck_xp_transactions_reason'), f"reason IN ({REASONS})")
        batch_op.create_check_constraint(op.f('ck_xp_transactions_amount_not_zero'), "amount <> 0")
        batch_op.create_check_constraint(op.f('ck_xp_transactions_only_bonus_negative'),
                                         "reason = 'bonus' OR amount > 0")
        batch_op.create_check_constraint(op.f('ck_xp_transactions_bonus_has_note'),
                                         "reason <> 'bonus' OR note IS NOT NULL")
        batch_op.create_index('idx_xp_transactions_class', ['class_id', 'created_at'], unique=False)

    op.execute("UPDATE user_levels SET total_xp = 0 WHERE total_xp < 0")
    with op.batch_alter_table('user_levels', schema=None) as batch_op:
        batch_op.drop_column('current_level')
        batch_op.drop_column('current_streak')
        batch_op.drop_column('last_activity_date')
        batch_op.add_column(sa.Column('leaderboard_opt_out', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
        batch_op.create_check_constraint(op.f('ck_user_levels_total_xp_not_negative'), "total_xp >= 0")

    with op.batch_alter_table('badges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slug', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('xp', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE badges SET slug = 'badge-' || CAST(id AS VARCHAR(40)) WHERE slug IS NULL")
    op.execute("UPDATE badges SET rarity = 'common' WHERE rarity IS NULL")
    op.execute("UPDATE badges SET criteria = '{\"type\": \"never\"}' WHERE criteria IS NULL")
    with op.batch_alter_table('badges', schema=None) as batch_op:
        batch_op.alter_column('slug', existing_type=sa.String(length=100), nullable=False)
        batch_op.alter_column('rarity', existing_type=sa.String(length=50), nullable=False)
        batch_op.alter_column('criteria', existing_type=sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False)
        batch_op.create_unique_constraint(op.f('uq_badges_slug'), ['slug'])
        batch_op.create_check_constraint(op.f('ck_badges_xp_not_negative'), "xp >= 0")

    with op.batch_alter_table('user_badges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shared_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('recipient_salt', sa.String(length=64), nullable=True))

    op.create_table('class_leaderboards',
    sa.Column('class_id', sa.Uuid(), nullable=False),
    sa.Column('mode', sa.String(length=20), server_default='off', nullable=False),
    sa.Column('neighbours', sa.Integer(), server_default='2', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("mode IN ('off', 'anonymous', 'neighbours', 'full')", name=op.f('ck_class_leaderboards_mode')),
    sa.CheckConstraint('neighbours BETWEEN 1 AND 10', name=op.f('ck_class_leaderboards_neighbours_range')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_class_leaderboards_class_id_classes'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('class_id', name=op.f('pk_class_leaderboards'))
    )
    op.create_table('streak_repairs',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_streak_repairs'))
    )


def downgrade():
    op.drop_table('streak_repairs')
    op.drop_table('class_leaderboards')
    with op.batch_alter_table('user_badges', schema=None) as batch_op:
        batch_op.drop_column('recipient_salt')
        batch_op.drop_column('shared_at')
    with op.batch_alter_table('badges', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_badges_xp_not_negative'), type_='check')
        batch_op.drop_constraint(op.f('uq_badges_slug'), type_='unique')
        batch_op.alter_column('criteria', existing_type=sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True)
        batch_op.alter_column('rarity', existing_type=sa.String(length=50), nullable=True)
        batch_op.drop_column('xp')
        batch_op.drop_column('slug')
    with op.batch_alter_table('user_levels', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_user_levels_total_xp_not_negative'), type_='check')
        batch_op.drop_column('time_zone')
        batch_op.drop_column('leaderboard_opt_out')
        batch_op.add_column(sa.Column('last_activity_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('current_streak', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('current_level', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('xp_transactions', schema=None) as batch_op:
        batch_op.drop_index('idx_xp_transactions_class')
        batch_op.drop_constraint(op.f('ck_xp_transactions_bonus_has_note'), type_='check')
        batch_op.drop_constraint(op.f('ck_xp_transactions_only_bonus_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_xp_transactions_amount_not_zero'), type_='check')
        batch_op.drop_constraint(op.f('ck_xp_transactions_reason'), type_='check')
        batch_op.drop_constraint(op.f('uq_xp_transactions_user_id_reason_reference_id'), type_='unique')
        batch_op.drop_constraint(op.f('fk_xp_transactions_awarded_by_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_xp_transactions_class_id_classes'), type_='foreignkey')
        batch_op.drop_column('note')
        batch_op.drop_column('awarded_by')
        batch_op.drop_column('source_id')
        batch_op.drop_column('class_id')
        batch_op.alter_column('reference_id', existing_type=sa.Uuid(), nullable=True)
        batch_op.alter_column('reason', existing_type=sa.String(length=255), nullable=True)
