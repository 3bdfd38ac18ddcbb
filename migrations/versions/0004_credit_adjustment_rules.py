"""credit adjustment rules

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

The sign of credit_adjustments.adjustment is defined once: positive gives
credits back (credits_used goes down by it), negative uses credits. The
database now holds that rule (credits_after = credits_before - adjustment),
refuses an adjustment of zero and an 'other' without its detail.
class_enrollments.credits_used may go below zero: a bonus credit given before
any meeting was attended leaves the student with more credits than the package.

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('class_enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_class_enrollments_credits_used_non_negative'), type_='check')
    with op.batch_alter_table('credit_adjustments', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_credit_adjustments_adjustment_not_zero'), 'adjustment <> 0')
        batch_op.create_check_constraint(op.f('ck_credit_adjustments_after_follows_adjustment'),
                                         'credits_after = credits_before - adjustment')
        batch_op.create_check_constraint(op.f('ck_credit_adjustments_other_has_detail'),
                                         "reason <> 'other' OR reason_detail IS NOT NULL")


def downgrade():
    with op.batch_alter_table('credit_adjustments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_credit_adjustments_other_has_detail'), type_='check')
        batch_op.drop_constraint(op.f('ck_credit_adjustments_after_follows_adjustment'), type_='check')
        batch_op.drop_constraint(op.f('ck_credit_adjustments_adjustment_not_zero'), type_='check')
    with op.batch_alter_table('class_enrollments', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_class_enrollments_credits_used_non_negative'), 'credits_used >= 0')
