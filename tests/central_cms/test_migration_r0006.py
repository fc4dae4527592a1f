"""Migration r0006 (issue 13): devices keep fetching the assets of the manifest they were
sent before the upgrade, so an upgrade does not stall any screen."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from central_cms import campaigns
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.compiler import Targets
from devices.protocol import ItemKind, Manifest, parse_signed
from testkit.staff import ADMIN, APPROVER


def test_upgrading_fills_each_manifests_assets_from_its_payload(app, session, rt, world):
    made = campaigns.save(
        session,
        rt,
        ADMIN,
        campaigns.CampaignInput(
            name="Poster",
            owner_site_id="north-pool",
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE, media_id=world.media["poster"], duration_s=12
                ),
            ),
            targets=Targets(sites=frozenset({"north-pool"})),
        ),
    )
    campaigns.submit(session, rt, ADMIN, made.id)
    campaigns.approve(session, rt, APPROVER, made.id)
    session.close()
    engine = cms_db.database(app).engine
    config = cms_db.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        # Down past every revision of issue 13 with data in place, then up again.
        command.downgrade(config, "0003")
    cms_db.migrate(engine)
    with cms_db.database(app).sessions() as fresh:
        states = fresh.scalars(select(m.ManifestState)).all()
        assert {s.device_id for s in states} == set(world.devices)
        for state in states:
            assert state.payload is not None
            manifest = parse_signed(Manifest, state.payload, [rt.signing_key.public_key])
            assert state.asset_sha256s == sorted(a.sha256 for a in manifest.assets)
        assert any(s.asset_sha256s for s in states)
