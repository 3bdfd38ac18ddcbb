from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField

from babyowl.validators import max_length, money, optional_date, required, strip, whole_number


class ProofForm(FlaskForm):
    file = FileField(_l("Photo or PDF of the transfer receipt"),
                     description=_l("JPEG, PNG or PDF, at most 5 MB."))
    transfer_date = optional_date(_l("Transfer date"))
    sender_name = StringField(_l("Sender's name (as on the bank account)"), filters=[strip],
                              validators=[max_length(255)])
    sender_bank = StringField(_l("Sender's bank"), filters=[strip], validators=[max_length(100)])


class VerifyForm(FlaskForm):
    amount = money(_l("Amount received (Rp)"), description=_l("As on the bank statement, e.g. 1.750.123"))
    note = StringField(_l("Note (optional)"), filters=[strip], validators=[max_length(500)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), filters=[strip], validators=[required(), max_length(500)])


class RefundForm(FlaskForm):
    credits = whole_number(_l("Unused credits to give back"), minimum=1, maximum=200, is_required=True)
    amount = money(_l("Amount refunded (Rp)"))
    reason = TextAreaField(_l("Reason"), filters=[strip], validators=[required(), max_length(500)])


class PricesForm(FlaskForm):
    package_price = money(_l("Package price (Rp)"), description=_l("Leave empty: not sold online."))
    meeting_price = money(_l("Price per added meeting (Rp)"), description=_l("Private classes only."))


class TopUpForm(FlaskForm):
    meetings = whole_number(_l("Meetings to add"), minimum=1, maximum=50, is_required=True, default=4)


class BankAccountForm(FlaskForm):
    bank_name = StringField(_l("Bank"), filters=[strip], validators=[required(), max_length(100)])
    account_number = StringField(_l("Account number"), filters=[strip], validators=[required(), max_length(50)])
    account_holder = StringField(_l("Account holder"), filters=[strip], validators=[required(), max_length(255)])
