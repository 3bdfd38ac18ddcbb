"""row invariants held by the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The services keep these rules and give the messages; the database is now the
last guard (DESIGN "Schema habits"):
- classes: lessons_unlocked <= meetings_completed, current_capacity <=
  max_capacity, a group class has an enrollment deadline.
- numbering: UNIQUE attempt numbers of quiz attempts and coding submissions,
  UNIQUE versions of assignment submissions.
- scores: 0 <= score <= max_score, 0 <= grade <= max_grade.
- class_attendance (enrollment_id, class_id) references class_enrollments
  (id, class_id), so a mark's copied class id is always its enrollment's.
- classes.meetings_scheduled is dropped: nothing read or wrote it.

Rows written before these rules are mended first where the mend is certain
(a group class without a deadline gets its start date, else the day it was
made); a numbering clash or an impossible count stops the upgrade with the
database's message, for a person to look at.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE classes SET enrollment_deadline = COALESCE(start_date, CAST(created_at AS DATE)) "
               "WHERE type = 'group' AND enrollment_deadline IS NULL")

    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.drop_column('meetings_scheduled')
        batch_op.create_check_constraint(op.f('ck_classes_unlocked_within_meetings_held'),
                                         'lessons_unlocked <= meetings_completed')
        batch_op.create_check_constraint(op.f('ck_classes_capacity_within_max'), 'current_capacity <= max_capacity')
        batch_op.create_check_constraint(op.f('ck_classes_group_has_deadline'),
                                         "type <> 'group' OR enrollment_deadline IS NOT NULL")

    with op.batch_alter_table('class_enrollments', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_class_enrollments_id_class', ['id', 'class_id'])

    with op.batch_alter_table('class_attendance', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_class_attendance_enrollment_class', 'class_enrollments',
                                    ['enrollment_id', 'class_id'], ['id', 'class_id'])

    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_quiz_attempts_number', ['user_id', 'exercise_id', 'attempt_number'])
        batch_op.create_check_constraint(op.f('ck_quiz_attempts_score_within_max'),
                                         'score >= 0 AND score <= max_score')

    with op.batch_alter_table('coding_submissions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_coding_submissions_number',
                                          ['user_id', 'exercise_id', 'attempt_number'])
        batch_op.create_check_constraint(
            op.f('ck_coding_submissions_score_within_max'),
            'score IS NULL OR max_score IS NULL OR (score >= 0 AND score <= max_score)')

    with op.batch_alter_table('assignment_submissions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_assignment_submissions_version', ['student_id', 'exercise_id', 'version'])
        batch_op.create_check_constraint(op.f('ck_assignment_submissions_grade_within_max'),
                                         'grade IS NULL OR (grade >= 0 AND grade <= max_grade)')


def downgrade():
    with op.batch_alter_table('assignment_submissions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_assignment_submissions_grade_within_max'), type_='check')
        batch_op.drop_constraint('uq_assignment_submissions_version', type_='unique')

    with op.batch_alter_table('coding_submissions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_coding_submissions_score_within_max'), type_='check')
        batch_op.drop_constraint('uq_coding_submissions_number', type_='unique')

    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_quiz_attempts_score_within_max'), type_='check')
        batch_op.drop_constraint('uq_quiz_attempts_number', type_='unique')

    with op.batch_alter_table('class_attendance', schema=None) as batch_op:
        batch_op.drop_constraint('fk_class_attendance_enrollment_class', type_='foreignkey')

    with op.batch_alter_table('class_enrollments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_class_enrollments_id_class', type_='unique')

    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_classes_group_has_deadline'), type_='check')
        batch_op.drop_constraint(op.f('ck_classes_capacity_within_max'), type_='check')
        batch_op.drop_constraint(op.f('ck_classes_unlocked_within_meetings_held'), type_='check')
        batch_op.add_column(sa.Column('meetings_scheduled', sa.INTEGER(), server_default=sa.text('0'),
                                      autoincrement=False, nullable=False))
