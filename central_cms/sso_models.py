"""Which person at the OpenID provider each single sign-on account belongs to (issue 17).

An account is found by the provider's issuer and subject, never by user name or email:
someone who renames themselves at the provider, or picks the name of a local account,
cannot take over another person's CMS account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from central_cms.models import Base, Timestamp


class SsoIdentity(Base):
    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    last_sign_in_at: Mapped[datetime] = mapped_column(Timestamp)
