package collab

import "time"

// pollPause is a polling loop's pause between two looks (with a deadline, never a
// fixed sleep standing for "long enough").
func pollPause() { <-time.After(20 * time.Millisecond) }
