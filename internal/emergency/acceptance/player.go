package acceptance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"socle/internal/emergency/aml"
)

// Player plays an operator's side of a campaign's PUSH cases: one message of each, sent to
// socle's interconnect with the operator's certificate (Client). Its broken modes show that
// a campaign fails exactly the cases they touch.
type Player struct {
	Client *http.Client
	URL    string // socle's interconnect, https://host:port
	// Network is the operator's (MCC, MNC); Foreign another operator's.
	Network, Foreign [2]string
	// WrongNetwork sends every message with Foreign: only push.foreign-network can pass.
	WrongNetwork bool
	// BadML sends the SMS with an ml that is not their length: the SMS cases fail.
	BadML bool
	// Device is the handset's number (a test number).
	Device string
	// Wrong, if set, sends the wrong-certificate case: a client with a certificate socle's
	// TLS trusts but that is no operator's.
	Wrong *http.Client
}

// Sent is what socle answered to one message.
type Sent struct {
	What   string
	Status int
	Answer string
}

// Push sends the messages of the PUSH cases, in the catalogue's order.
func (p Player) Push(ctx context.Context) ([]Sent, error) {
	device := p.Device
	if device == "" {
		device = "+33612345678"
	}
	net := p.Network
	if p.WrongNetwork {
		net = p.Foreign
	}
	msg := func(src aml.Source, network [2]string) aml.Message {
		now := time.Now().UTC().Truncate(time.Second)
		return aml.Message{DeviceNumber: device, EmergencyNumber: "112", NetworkMCC: network[0], NetworkMNC: network[1],
			IMSI: network[0] + network[1] + "0123456789"[:15-len(network[0])-len(network[1])], IMEI: "356938035643809", Time: now,
			Location: &aml.Location{Latitude: 48.85837, Longitude: 2.29448, Accuracy: 12, Confidence: 68, Source: src, Time: now}}
	}
	noFix := msg(aml.SourceGPS, net)
	noFix.Location, noFix.NoLocation = nil, true
	sms := func(b []byte) []byte {
		if !p.BadML {
			return b
		}
		i := bytes.LastIndex(b, []byte(";ml="))
		return append(b[:i:i], []byte(";ml=999")...)
	}
	gnss := aml.EncodeHTTPS(msg(aml.SourceGPS, net))
	form, text := "application/x-www-form-urlencoded", "text/plain"
	steps := []struct {
		what, contentType string
		body              []byte
	}{
		{"push.https.gnss", form, gnss},
		{"push.https.wifi", form, aml.EncodeHTTPS(msg(aml.SourceWiFi, net))},
		{"push.https.cell", form, aml.EncodeHTTPS(msg(aml.SourceCell, net))},
		{"push.nolocation", text, sms(aml.EncodeSMSv1(noFix))},
		{"push.sms.v1", text, sms(aml.EncodeSMSv1(msg(aml.SourceGPS, net)))},
		{"push.sms.v2", text, sms(aml.EncodeSMSv2(msg(aml.SourceGPS, net)))},
		{"push.duplicate", form, gnss},
		{"push.foreign-network", form, aml.EncodeHTTPS(msg(aml.SourceGPS, p.Foreign))},
	}
	if p.Wrong != nil {
		steps = append(steps, struct {
			what, contentType string
			body              []byte
		}{"push.wrong-certificate", form, aml.EncodeHTTPS(msg(aml.SourceGPS, net))})
	}
	var out []Sent
	for i, s := range steps {
		client := p.Client
		if i == len(steps)-1 && p.Wrong != nil {
			client = p.Wrong
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.URL, "/")+"/emergency/v1/aml", bytes.NewReader(s.body))
		if err != nil {
			return out, err
		}
		req.Header.Set("Content-Type", s.contentType)
		req.Header.Set("Device-Number", device)
		req.Header.Set("Emergency-Number", "112")
		resp, err := client.Do(req)
		if err != nil {
			return out, fmt.Errorf("acceptance: %s: %w", s.what, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
		resp.Body.Close()
		out = append(out, Sent{What: s.what, Status: resp.StatusCode, Answer: string(b)})
	}
	return out, nil
}
