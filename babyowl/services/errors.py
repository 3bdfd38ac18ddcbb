"""Errors a service raises when a rule refuses a use case.

The message is written for the person who tried; views show it inline for
htmx, or flash it for a plain form post.
"""
from __future__ import annotations


class DomainError(Exception):
    status_code = 409

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    status_code = 403


class InvalidInput(DomainError):
    status_code = 422
