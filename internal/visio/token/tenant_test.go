package token

import (
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Tenants, as Jitsi's multi-domain deployments have them: the meeting
// https://meet.example/TENANT/room is the MUC room "[tenant]room", and a token opens it
// when its sub is that tenant (or "*") and its room claim the room's name, tenant left out
// (or "*"). A room without a tenant needs sub to be the domain (or "*").
// Source: jitsi-meet resources/prosody-plugins/token/util.lib.lua, verify_room, the
// enable_domain_verification branch.
func TestTenantRoomsFollowJitsisVerifyRoom(t *testing.T) {
	secret := "a shared secret of enough length"
	tok := func(sub, room string) string {
		return hs256(t, jitsi(func(c jwt.MapClaims) { c["sub"] = sub; c["room"] = room }), secret)
	}
	for name, tc := range map[string]struct {
		token, room string
		want        error
	}{
		"sub is the tenant":                     {tok("dinum", "point-hebdo"), "[dinum]point-hebdo", nil},
		"sub compared in lower case":            {tok("DINUM", "Point-Hebdo"), "[dinum]point-hebdo", nil},
		"sub * opens every tenant":              {tok("*", "point-hebdo"), "[dinum]point-hebdo", nil},
		"room * opens every room of the tenant": {tok("dinum", "*"), "[dinum]conseil", nil},
		"sub *, room *":                         {tok("*", "*"), "[autre]conseil", nil},
		"another tenant":                        {tok("dinum", "point-hebdo"), "[autre]point-hebdo", ErrTenant},
		"another tenant, room *":                {tok("dinum", "*"), "[autre]point-hebdo", ErrTenant},
		// With a tenant, sub is the tenant: the domain is what sub says for rooms without one.
		"the domain is not a tenant":      {tok("visio.gouv.fr", "point-hebdo"), "[dinum]point-hebdo", ErrTenant},
		"the tenant's room, another name": {tok("dinum", "point-hebdo"), "[dinum]conseil", ErrRoom},
		// The room claim is the name without the tenant ("room" is the node's room part).
		"room claim with the tenant in it": {tok("dinum", "[dinum]point-hebdo"), "[dinum]point-hebdo", ErrRoom},
		// A room without a tenant: sub is the domain, or "*"; a tenant's token does not open it.
		"no tenant, sub the domain": {tok("visio.gouv.fr", "point-hebdo"), "point-hebdo", nil},
		"no tenant, sub *":          {tok("*", "point-hebdo"), "point-hebdo", nil},
		"no tenant, sub a tenant":   {tok("dinum", "point-hebdo"), "point-hebdo", ErrAudience},
	} {
		c, err := verifier(nil).Verify(tc.token, tc.room)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
			continue
		}
		if err == nil && c.Tenant != "dinum" && c.Tenant != "autre" && c.Tenant != "" {
			t.Errorf("%s: tenant %q", name, c.Tenant)
		}
	}
}

// Jitsi checks the tenant only with enable_domain_verification; socle always does for a
// tenant's room, even with no Domain configured: else a token of one tenant would open the
// room of the same name of every other.
func TestATenantsRoomNeedsItsTenantEvenWithoutADomain(t *testing.T) {
	v := verifier(nil)
	v.Domain = ""
	tok := hs256(t, jitsi(func(c jwt.MapClaims) { c["sub"] = "dinum" }), "a shared secret of enough length")
	if _, err := v.Verify(tok, "[autre]point-hebdo"); !errors.Is(err, ErrTenant) {
		t.Errorf("another tenant: %v, want %v", err, ErrTenant)
	}
	if c, err := v.Verify(tok, "[dinum]point-hebdo"); err != nil || c.Tenant != "dinum" {
		t.Errorf("its tenant: %+v, %v", c, err)
	}
	// Without a Domain, a room without a tenant takes any sub, as Jitsi without domain
	// verification.
	if _, err := v.Verify(tok, "point-hebdo"); err != nil {
		t.Errorf("no tenant, no domain: %v", err)
	}
}

// SplitRoom reads the node as verify_room does, with ^%[([^%]]+)%](.+)$: a bracketed,
// non-empty tenant, then a non-empty room; anything else is a room without a tenant.
func TestSplitRoom(t *testing.T) {
	for room, want := range map[string][2]string{
		"[dinum]point-hebdo": {"dinum", "point-hebdo"},
		"point-hebdo":        {"", "point-hebdo"},
		"[]point-hebdo":      {"", "[]point-hebdo"},
		"[dinum]":            {"", "[dinum]"},
		"[a]b]c":             {"a", "b]c"},
	} {
		if tenant, name := SplitRoom(room); tenant != want[0] || name != want[1] {
			t.Errorf("SplitRoom(%q) = %q, %q, want %q, %q", room, tenant, name, want[0], want[1])
		}
	}
	if TenantRoom("dinum", "point-hebdo") != "[dinum]point-hebdo" || TenantRoom("", "point-hebdo") != "point-hebdo" {
		t.Error("TenantRoom")
	}
}
