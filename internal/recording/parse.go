package recording

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
)

// Parse reads a whole recording: its header and every event, in order. It
// is meant for tests and tools; Scan reads one event at a time.
func Parse(r io.Reader) (Header, []Event, error) {
	h, events, err := Scan(r)
	if err != nil {
		return h, nil, err
	}
	var all []Event
	for e, err := range events {
		if err != nil {
			return h, all, err
		}
		all = append(all, e)
	}
	return h, all, nil
}

// Scan reads the header of a recording and returns the events as an
// iterator that reads the rest lazily, so a tool can go through a large
// recording without holding it. The iterator yields a non-nil error at most
// once, as its last value. Blank lines are skipped; a line that is not an
// event, a header that is not asciicast v2, or a last line cut short (that
// Recover has not repaired) is an error.
func Scan(r io.Reader) (Header, iter.Seq2[Event, error], error) {
	lr := newLineReader(r)
	line, complete, err := lr.next()
	if err != nil {
		return Header{}, nil, err
	}
	if !complete && len(line) == 0 {
		return Header{}, nil, errors.New("asciicast: empty recording")
	}
	h, err := parseHeader(line)
	if err != nil {
		return Header{}, nil, err
	}
	events := func(yield func(Event, error) bool) {
		if !complete {
			return // the header was the whole recording
		}
		for n := 2; ; n++ {
			line, complete, err := lr.next()
			if err != nil {
				yield(Event{}, err)
				return
			}
			if len(line) > 0 {
				e, err := parseEvent(line)
				if err != nil {
					yield(Event{}, fmt.Errorf("asciicast line %d: %w", n, err))
					return
				}
				if !yield(e, nil) {
					return
				}
			}
			if !complete {
				return
			}
		}
	}
	return h, events, nil
}

func parseHeader(line []byte) (Header, error) {
	var hj headerJSON
	if err := json.Unmarshal(line, &hj); err != nil {
		return Header{}, fmt.Errorf("asciicast header: %w", err)
	}
	if hj.Version != 2 {
		return Header{}, fmt.Errorf("asciicast header: version %d, want 2", hj.Version)
	}
	return Header{Width: hj.Width, Height: hj.Height, Timestamp: hj.Timestamp, Title: hj.Title, Env: hj.Env}, nil
}

func parseEvent(line []byte) (Event, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(line, &parts); err != nil {
		return Event{}, err
	}
	if len(parts) != 3 {
		return Event{}, fmt.Errorf("event has %d elements, want 3", len(parts))
	}
	var e Event
	if err := json.Unmarshal(parts[0], &e.Time); err != nil {
		return Event{}, fmt.Errorf("event time: %w", err)
	}
	if err := json.Unmarshal(parts[1], &e.Kind); err != nil {
		return Event{}, fmt.Errorf("event kind: %w", err)
	}
	if err := json.Unmarshal(parts[2], &e.Data); err != nil {
		return Event{}, fmt.Errorf("event data: %w", err)
	}
	return e, nil
}
