package testnet

// ChurnInFlight is how many connections a Churn has open at most at any
// moment: one per worker.
const ChurnInFlight = churnWorkers

// Closed returns how many connections the churn has made and closed so far,
// as Stop's ChurnStats.Closed counts them.
func (c *Churn) Closed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats.Closed
}
