"""payments: prices, invoices with a unique code, their history, proofs, deliveries, bank accounts

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

A class has a package price (and, for a private class, a price per added
meeting). An invoice asks a student for an amount plus a 3-digit unique code;
no two open invoices expect the same total (partial unique index), so a bank
statement line matches one invoice. Every change of state is appended to
invoice_events; invoice_deliveries holds one row per invoice, ever (what
verifying gave), so a double verification delivers once.
class_enrollments.payment_status also takes 'partially_paid' and
'partially_refunded'.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'submitted', 'partially_paid', 'rejected')"
INVOICE_STATUSES = ("'pending', 'submitted', 'partially_paid', 'verified', 'rejected', 'expired', 'cancelled', "
                    "'refunded', 'partially_refunded'")


def upgrade():
    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('package_price', sa.Numeric(15, 2), nullable=True))
        batch_op.add_column(sa.Column('meeting_price', sa.Numeric(15, 2), nullable=True))
        batch_op.create_check_constraint(op.f('ck_classes_package_price_non_negative'), 'package_price IS NULL OR package_price >= 0')
        batch_op.create_check_constraint(op.f('ck_classes_meeting_price_non_negative'), 'meeting_price IS NULL OR meeting_price >= 0')
    with op.batch_alter_table('class_enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_class_enrollments_payment_status'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_class_enrollments_payment_status'),
            "payment_status IN ('pending', 'partially_paid', 'verified', 'refunded', 'partially_refunded')")

    op.create_table(
        'bank_accounts',
        sa.Column('bank_name', sa.String(100), nullable=False),
        sa.Column('account_number', sa.String(50), nullable=False),
        sa.Column('account_holder', sa.String(255), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_accounts')),
        sa.UniqueConstraint('bank_name', 'account_number', name=op.f('uq_bank_accounts_bank_name_account_number')),
    )
    op.create_table(
        'invoices',
        sa.Column('number', sa.String(30), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('student_id', sa.Uuid(), nullable=False),
        sa.Column('class_id', sa.Uuid(), nullable=False),
        sa.Column('enrollment_id', sa.Uuid(), nullable=True),
        sa.Column('meetings', sa.Integer(), nullable=False),
        sa.Column('amount_due', sa.Numeric(15, 2), nullable=False),
        sa.Column('unique_code', sa.Integer(), nullable=False),
        sa.Column('expected_total', sa.Numeric(15, 2), nullable=False),
        sa.Column('amount_received', sa.Numeric(15, 2), server_default='0', nullable=False),
        sa.Column('amount_refunded', sa.Numeric(15, 2), server_default='0', nullable=False),
        sa.Column('status', sa.String(30), server_default='pending', nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("kind IN ('enrollment', 'top_up')", name=op.f('ck_invoices_kind')),
        sa.CheckConstraint(f"status IN ({INVOICE_STATUSES})", name=op.f('ck_invoices_status')),
        sa.CheckConstraint('unique_code BETWEEN 1 AND 999', name=op.f('ck_invoices_unique_code_range')),
        sa.CheckConstraint('amount_due >= 0', name=op.f('ck_invoices_amount_due_non_negative')),
        sa.CheckConstraint('expected_total = amount_due + unique_code', name=op.f('ck_invoices_expected_total_adds_up')),
        sa.CheckConstraint('amount_received >= 0', name=op.f('ck_invoices_amount_received_non_negative')),
        sa.CheckConstraint('amount_refunded >= 0 AND amount_refunded <= amount_received',
                           name=op.f('ck_invoices_refund_within_received')),
        sa.CheckConstraint('meetings > 0', name=op.f('ck_invoices_meetings_positive')),
        sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_invoices_student_id_users')),
        sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_invoices_class_id_classes')),
        sa.ForeignKeyConstraint(['enrollment_id'], ['class_enrollments.id'],
                                name=op.f('fk_invoices_enrollment_id_class_enrollments')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_invoices_created_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
        sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    )
    op.create_index('uq_invoices_open_expected_total', 'invoices', ['expected_total'], unique=True,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    op.create_index('idx_invoices_student', 'invoices', ['student_id'])
    op.create_index('idx_invoices_class', 'invoices', ['class_id'])
    op.create_index('idx_invoices_status_due', 'invoices', ['status', 'due_at'])

    op.create_table(
        'invoice_events',
        sa.Column('invoice_id', sa.Uuid(), nullable=False),
        sa.Column('actor_id', sa.Uuid(), nullable=True),
        sa.Column('old_status', sa.String(30), nullable=True),
        sa.Column('new_status', sa.String(30), nullable=False),
        sa.Column('amount', sa.Numeric(15, 2), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.CheckConstraint(f"old_status IS NULL OR old_status IN ({INVOICE_STATUSES})",
                           name=op.f('ck_invoice_events_old_status')),
        sa.CheckConstraint(f"new_status IN ({INVOICE_STATUSES})", name=op.f('ck_invoice_events_new_status')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_events_invoice_id_invoices'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_invoice_events_actor_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_events')),
    )
    op.create_index('idx_invoice_events_invoice', 'invoice_events', ['invoice_id', 'created_at'])

    op.create_table(
        'payment_proofs',
        sa.Column('invoice_id', sa.Uuid(), nullable=False),
        sa.Column('uploaded_by', sa.Uuid(), nullable=True),
        sa.Column('file_key', sa.String(500), nullable=False),
        sa.Column('file_name', sa.String(255), nullable=False),
        sa.Column('content_type', sa.String(100), nullable=False),
        sa.Column('file_size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('transfer_date', sa.Date(), nullable=True),
        sa.Column('sender_name', sa.String(255), nullable=True),
        sa.Column('sender_bank', sa.String(100), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('file_size > 0', name=op.f('ck_payment_proofs_file_size_positive')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_proofs_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_payment_proofs_uploaded_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_proofs')),
    )
    op.create_index('idx_payment_proofs_invoice', 'payment_proofs', ['invoice_id'])
    op.create_index('idx_payment_proofs_sha256', 'payment_proofs', ['sha256'])

    op.create_table(
        'invoice_deliveries',
        sa.Column('invoice_id', sa.Uuid(), nullable=False),
        sa.Column('enrollment_id', sa.Uuid(), nullable=False),
        sa.Column('credits_added', sa.Integer(), nullable=False),
        sa.Column('delivered_by', sa.Uuid(), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'],
                                name=op.f('fk_invoice_deliveries_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['enrollment_id'], ['class_enrollments.id'],
                                name=op.f('fk_invoice_deliveries_enrollment_id_class_enrollments')),
        sa.ForeignKeyConstraint(['delivered_by'], ['users.id'], name=op.f('fk_invoice_deliveries_delivered_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_deliveries')),
        sa.UniqueConstraint('invoice_id', name=op.f('uq_invoice_deliveries_invoice_id')),
    )


def downgrade():
    op.drop_table('invoice_deliveries')
    op.drop_index('idx_payment_proofs_sha256', table_name='payment_proofs')
    op.drop_index('idx_payment_proofs_invoice', table_name='payment_proofs')
    op.drop_table('payment_proofs')
    op.drop_index('idx_invoice_events_invoice', table_name='invoice_events')
    op.drop_table('invoice_events')
    op.drop_index('idx_invoices_status_due', table_name='invoices')
    op.drop_index('idx_invoices_class', table_name='invoices')
    op.drop_index('idx_invoices_student', table_name='invoices')
    op.drop_index('uq_invoices_open_expected_total', table_name='invoices')
    op.drop_table('invoices')
    op.drop_table('bank_accounts')
    with op.batch_alter_table('class_enrollments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_class_enrollments_payment_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_class_enrollments_payment_status'), "payment_status IN ('pending', 'verified', 'refunded')")
    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_classes_meeting_price_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_classes_package_price_non_negative'), type_='check')
        batch_op.drop_column('meeting_price')
        batch_op.drop_column('package_price')
