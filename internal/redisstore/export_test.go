package redisstore

// SetBetweenDrawSteps has f run between the two calls of every opening
// with a pre-queue, so that tests can join or leave there.
func SetBetweenDrawSteps(s *Store, f func()) { s.betweenDrawSteps = f }
