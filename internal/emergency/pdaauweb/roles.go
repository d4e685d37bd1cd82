package pdaauweb

import (
	"fmt"
	"strings"

	"socle/internal/emergency/geo"
	"socle/internal/platform/identity"
)

// The roles of the routing-table workflow, granted per département. The emergency service
// defines them on the platform's identity (service.Definition.Roles).
const (
	// RoleEditor edits and uploads a département's PDAAU drafts.
	RoleEditor = "pdaau.editor"
	// RoleApprover approves, publishes and rolls back a département's PDAAU.
	RoleApprover = "pdaau.approver"
)

// Roles are the roles above, with their scopes: département codes.
var Roles = []identity.Role{
	{Name: RoleEditor, Description: "edits and uploads a département's PDAAU drafts", Scope: departementScope},
	{Name: RoleApprover, Description: "approves, publishes and rolls back a département's PDAAU", Scope: departementScope},
}

// departementScope upper-cases a département code and checks it: 01 to 95 (2A and 2B for
// Corsica, no 20) or 971 to 976.
func departementScope(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if !geo.ValidDepartement(u) {
		return "", fmt.Errorf("scope %q is not a département code (such as 75, 2A or 971) or *", s)
	}
	return u, nil
}
