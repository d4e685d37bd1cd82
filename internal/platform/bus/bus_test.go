package bus

import (
	"github.com/nats-io/nats.go"
	"testing"
	"time"
)

func TestEmbeddedBusDeliversToSubscribers(t *testing.T) {
	b, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 1)
	sub, err := b.Subscribe("socle.test", func(m *nats.Msg) { got <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	b.Flush()
	b.Publish("socle.test", []byte("réveil"))
	select {
	case s := <-got:
		if s != "réveil" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}
