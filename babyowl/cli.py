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

    @app.cli.command("xp-rebuild")
    def xp_rebuild_command() -> None:
        """Recompute every user_levels.total_xp from the XP ledger (safe to run at any time)."""
        from babyowl.services.xp import rebuild_levels_use_case

        click.echo(f"{rebuild_levels_use_case()} levels corrected from the ledger.")

    @app.cli.command("leaderboards-rebuild")
    def leaderboards_rebuild_command() -> None:
        """Rebuild every class leaderboard in Redis from the XP ledger."""
        from babyowl.services.leaderboards import rebuild_all

        click.echo(f"{rebuild_all()} class leaderboards rebuilt.")

    @app.cli.command("streak-repair")
    @click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--reason", required=True, help="Why the day is repaired (e.g. the outage).")
    def streak_repair_command(day, reason: str) -> None:
        """Count DAY (YYYY-MM-DD, school time) as active in every student's streak, e.g. after an outage."""
        from babyowl.services.streaks import repair_day

        repair_day(day.date(), reason)
        click.echo(f"Streaks repaired for {day.date().isoformat()}.")

    @app.cli.command("badges-seed")
    def badges_seed_command() -> None:
        """Create or update the school's badge catalog (safe to run again)."""
        from babyowl.services.badges import seed_catalog

        click.echo(f"{seed_catalog()} badges in the catalog.")

    @app.cli.command("badges-backfill")
    def badges_backfill_command() -> None:
        """Award every badge (and streak milestone) students have earned but not yet received."""
        from babyowl.services.badges import backfill

        click.echo(f"{backfill()} badges awarded.")
