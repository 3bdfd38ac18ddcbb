"""Flask CLI commands: `flask --app babyowl create-admin`, `seed-demo`, `grade-pending`."""
from __future__ import annotations

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.option("--email", prompt=True, help="Email address the administrator signs in with.")
    @click.option("--name", "full_name", prompt="Full name", help="Full name shown in the app.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  help="Password (asked for, hidden, when not given).")
    def create_admin(email: str, full_name: str, password: str) -> None:
        """Create a super_admin account."""
        from babyowl.services.accounts import create_user
        from babyowl.services.errors import DomainError

        try:
            user = create_user(email=email, full_name=full_name, role="super_admin", password=password,
                               email_verified=True, onboarding_completed=True)
        except DomainError as refused:
            raise click.ClickException(refused.message) from refused
        click.echo(f"Created super_admin {user.email}.")

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Fill the database with a demo school (safe to run again)."""
        from babyowl.demo import DEMO_PASSWORD, seed_demo

        logins = seed_demo()
        click.echo("Demo school ready. Sign in with any of these (password for all: %s):" % DEMO_PASSWORD)
        for login in logins:
            click.echo(f"  {login.role:<12} {login.email:<24} {login.name}")

    @app.cli.command("grade-pending")
    @click.option("--older-than", default=600, show_default=True,
                  help="Seconds a submission has waited before its grading job counts as lost.")
    def grade_pending(older_than: int) -> None:
        """Queue again the coding submissions whose grading job was lost (safe to run at any time)."""
        from babyowl.jobs.grading import requeue_lost_gradings

        click.echo(f"{requeue_lost_gradings(older_than)} submissions queued for grading.")

    @app.cli.command("send-due-announcements")
    def send_due_announcements_command() -> None:
        """Send every announcement that is due and unsent, and re-queue emails whose job was lost."""
        from babyowl.jobs.announcements import sweep

        done = sweep()
        click.echo(f"{done['announcements']} announcements sent, {done['emails'] + done['account_emails']} emails "
                   f"re-queued, {done['expired_invoices']} unpaid invoices expired.")
