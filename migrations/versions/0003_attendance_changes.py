"""attendance changes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

attendance_changes: every change of a mark (old -> new, who, when, why) and
the idempotency key of the tap that made it.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('attendance_changes',
    sa.Column('attendance_id', sa.Uuid(), nullable=False),
    sa.Column('enrollment_id', sa.Uuid(), nullable=False),
    sa.Column('meeting_number', sa.Integer(), nullable=False),
    sa.Column('old_status', sa.String(length=20), nullable=True),
    sa.Column('new_status', sa.String(length=20), nullable=False),
    sa.Column('credit_change', sa.Integer(), server_default='0', nullable=False),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("new_status IN ('present', 'absent', 'late')", name=op.f('ck_attendance_changes_new_status')),
    sa.CheckConstraint("old_status IS NULL OR old_status IN ('present', 'absent', 'late')", name=op.f('ck_attendance_changes_old_status')),
    sa.ForeignKeyConstraint(['attendance_id'], ['class_attendance.id'], name=op.f('fk_attendance_changes_attendance_id_class_attendance'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_attendance_changes_changed_by_users')),
    sa.ForeignKeyConstraint(['enrollment_id'], ['class_enrollments.id'], name=op.f('fk_attendance_changes_enrollment_id_class_enrollments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_changes')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_attendance_changes_idempotency_key'))
    )
    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.create_index('idx_attendance_changes_attendance', ['attendance_id'], unique=False)
        batch_op.create_index('idx_attendance_changes_enrollment', ['enrollment_id'], unique=False)




def downgrade():

    with op.batch_alter_table('attendance_changes', schema=None) as batch_op:
        batch_op.drop_index('idx_attendance_changes_enrollment')
        batch_op.drop_index('idx_attendance_changes_attendance')

    op.drop_table('attendance_changes')

