"""quiz attempt and assignment version numbers unique; scores and grades within their maximum

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-01

quiz_attempts (user_id, exercise_id, attempt_number) and assignment_submissions
(student_id, exercise_id, version) become UNIQUE: the services number them under
a row lock, and the database is the last guard (a conflict is refused with a
message, never stored twice). CHECKs keep a quiz score within 0..max_score and
a grade within 0..max_grade.

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_quiz_attempts_user_id_exercise_id_attempt_number'),
                                          ['user_id', 'exercise_id', 'attempt_number'])
        batch_op.create_check_constraint(batch_op.f('ck_quiz_attempts_score_within_max'),
                                         'score >= 0 AND score <= max_score')
    with op.batch_alter_table('assignment_submissions', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_assignment_submissions_student_id_exercise_id_version'),
                                          ['student_id', 'exercise_id', 'version'])
        batch_op.create_check_constraint(
            batch_op.f('ck_assignment_submissions_grade_within_max'),
            'grade IS NULL OR (grade >= 0 AND (max_grade IS NULL OR grade <= max_grade))')


def downgrade():
    with op.batch_alter_table('assignment_submissions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_assignment_submissions_grade_within_max'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_assignment_submissions_student_id_exercise_id_version'),
                                 type_='unique')
    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_quiz_attempts_score_within_max'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_quiz_attempts_user_id_exercise_id_attempt_number'), type_='unique')
