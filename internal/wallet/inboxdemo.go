package wallet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// demoInboxSender is the administration of the gateway's demo that writes to the citizens'
// inbox (consumer spf-finances-demo of internal/gateway/demo.go: named here, not imported).
var demoInboxSender = Partner{Consumer: "spf-finances-demo", Organisation: "SPF Finances (démo)"}

// demoInbox puts in Sophie Lambert's inbox one ordinary message and one registered, as the
// demo administration would publish them; again, it changes nothing (the sender's ids).
func demoInbox(ctx context.Context, pool *pgxpool.Pool) error {
	summary := "Avertissement-extrait de rôle — exercice d'imposition 2026 (revenus 2025)\n" +
		"Contribuable : Sophie Lambert, 85.03.14-124.01\nMontant à rembourser : 412,37 EUR\n"
	for _, m := range []struct {
		id  string
		req map[string]any
	}{
		{"demo-aer-2026-85031412401", map[string]any{
			"citizen": "85031412401", "language": "fr", "registered": false,
			"subject": "Votre avertissement-extrait de rôle 2026 est disponible",
			"body": "Madame,\n\nVotre avertissement-extrait de rôle pour l'exercice d'imposition 2026 (revenus 2025) est disponible.\n" +
				"Un remboursement de 412,37 EUR sera versé sur votre compte dans le mois.\n\nLe SPF Finances",
			"attachments": []map[string]string{{"name": "avertissement-extrait-de-role-2026.txt", "media_type": "text/plain; charset=utf-8",
				"content": base64.StdEncoding.EncodeToString([]byte(summary))}},
		}},
		{"demo-rappel-2026-85031412401", map[string]any{
			"citizen": "85031412401", "language": "fr", "registered": true,
			"subject": "Rappel : déclaration d'impôt des personnes physiques à introduire",
			"body": "Madame,\n\nNous n'avons pas reçu votre déclaration d'impôt des personnes physiques pour l'exercice 2026.\n" +
				"Introduisez-la dans MyMinfin avant le 31 décembre 2026 ; à défaut, une taxation d'office peut être établie.\n\nLe SPF Finances",
		}},
	} {
		b, _ := json.Marshal(m.req)
		msg, prob := parseInboxMessage(b)
		if prob != nil {
			return fmt.Errorf("wallet: demo inbox: %s: %v", m.id, prob.Errors)
		}
		if _, _, err := (inboxStore{pool}).publish(ctx, demoInboxSender, m.id, msg, time.Now()); err != nil {
			return fmt.Errorf("wallet: demo inbox: %s: %w", m.id, err)
		}
	}
	return nil
}
