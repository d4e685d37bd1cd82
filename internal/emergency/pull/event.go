package pull

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"socle/internal/emergency/delivery"
)

// CallEvent is what a node announces to the others on the bus (socle.emergency.pull.calls)
// for their memory of recent calls: a fix it accepted, or a routing it made.
type CallEvent struct {
	Node   string        `json:"node"`
	Fix    *delivery.Job `json:"fix,omitempty"`
	Routed *RoutedCall   `json:"routed,omitempty"`
}

// RoutedCall says that a call from Device, received At, was routed to PSAP.
type RoutedCall struct {
	Device string    `json:"device"`
	PSAP   string    `json:"psap"`
	At     time.Time `json:"at"`
}

// EncodeCallEvent is the event as it goes on the bus.
func EncodeCallEvent(e CallEvent) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("call event: %w", err)
	}
	return json.Marshal(e)
}

// MaxClockSkew is how far ahead of this node's clock an event's time may be. A fix dated
// later than it is would shadow the newer fixes of the number (the newest is kept) and
// answer queries until MaxAge after that date.
const MaxClockSkew = time.Minute

// DecodeCallEvent reads an event from the bus, heard at now. An event is believed (its fix
// answers location queries), so one that is not usable as it stands is refused, with the
// reason, rather than half-used: a position out of range, a number that is not E.164, a
// fix without its message id or time, a time ahead of now by more than MaxClockSkew. The
// reasons name fields, never their values: the events carry personal data, and the
// reasons go to the logs.
func DecodeCallEvent(b []byte, now time.Time) (CallEvent, error) {
	var e CallEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return CallEvent{}, fmt.Errorf("call event: not JSON of the expected shape: %w", jsonReason(err))
	}
	if err := e.check(); err != nil {
		return CallEvent{}, fmt.Errorf("call event: %w", err)
	}
	at, field := e.at()
	if at.After(now.Add(MaxClockSkew)) {
		return CallEvent{}, fmt.Errorf("call event: %s is more than %s ahead of this node's clock: the nodes' clocks disagree", field, MaxClockSkew)
	}
	return e, nil
}

// at is the event's time, and its field.
func (e CallEvent) at() (time.Time, string) {
	if e.Fix != nil {
		return e.Fix.ReceivedAt, "fix.ReceivedAt"
	}
	return e.Routed.At, "routed.at"
}

// jsonReason keeps from a JSON error what it says of the shape: a syntax error quotes
// nothing, a type error names the field; neither needs the value.
func jsonReason(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: want a %s", te.Field, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	}
	return errors.New("invalid")
}

var psapID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`) // as in the directory file

func (e CallEvent) check() error {
	switch {
	case e.Node == "":
		return errors.New("node missing")
	case (e.Fix == nil) == (e.Routed == nil):
		return errors.New("want exactly one of fix and routed")
	}
	if j := e.Fix; j != nil {
		switch {
		case j.ID == "":
			return errors.New("fix.ID missing")
		case !ValidDevice(j.Device):
			return errors.New("fix.Device: not an E.164 number with its +")
		case j.ReceivedAt.IsZero():
			return errors.New("fix.ReceivedAt missing")
		case !(j.Lat >= -90 && j.Lat <= 90):
			return errors.New("fix.Lat: not a latitude (-90 to 90)")
		case !(j.Lon >= -180 && j.Lon <= 180):
			return errors.New("fix.Lon: not a longitude (-180 to 180)")
		case j.Accuracy != nil && !(*j.Accuracy >= 0 && *j.Accuracy <= 2e7): // half the Earth's circumference
			return errors.New("fix.Accuracy: not a radius in metres")
		case j.Confidence != nil && (*j.Confidence < 0 || *j.Confidence > 100):
			return errors.New("fix.Confidence: not a percentage")
		}
	}
	if r := e.Routed; r != nil {
		switch {
		case !ValidDevice(r.Device):
			return errors.New("routed.device: not an E.164 number with its +")
		case !psapID.MatchString(r.PSAP):
			return errors.New("routed.psap: not a PSAP id")
		case r.At.IsZero():
			return errors.New("routed.at missing")
		}
	}
	return nil
}

// ValidDevice reports whether s is a caller number as socle keeps it: E.164 with its '+',
// 6 to 15 digits, the first not 0.
func ValidDevice(s string) bool {
	if len(s) < 7 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
