package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NodeTimeout is the cluster-node-timeout of the clusters that
// ClusterWithReplicas starts: a master that stops answering for this long
// is failed over, which then takes about one to three seconds more.
const NodeTimeout = time.Second

// ReplicatedCluster is a Redis Cluster with replicas, started by
// ClusterWithReplicas. Its methods are safe for concurrent use.
type ReplicatedCluster struct {
	// URL names one master ("redis://127.0.0.1:port"); a cluster client
	// learns the other nodes from it.
	URL string

	addrs []string          // every node, masters first
	kills map[string]func() // by address

	mu     sync.Mutex
	killed map[string]bool
}

// ClusterWithReplicas starts a Redis Cluster of masters masters (at least
// 3), each with replicasPer replicas (at least 1), on loopback ports, with
// a cluster-node-timeout of NodeTimeout and each node's files in a
// t.TempDir(). extra arguments go to every redis-server, after the
// defaults (no persistence), for example "--appendonly", "yes". It waits
// until every node reports cluster_state:ok and every replica is in sync
// with its master. The nodes are killed at cleanup. Without redis-server
// or redis-cli on PATH it skips the test, unless QUEUEPASS_TEST_REDIS_URL
// is set, in which case it fails it.
func ClusterWithReplicas(t testing.TB, masters, replicasPer int, extra ...string) *ReplicatedCluster {
	t.Helper()
	if masters < 3 || replicasPer < 1 {
		t.Fatalf("redistest.ClusterWithReplicas(%d, %d): want at least 3 masters and 1 replica each", masters, replicasPer)
	}
	server := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")
	c := &ReplicatedCluster{kills: map[string]func(){}, killed: map[string]bool{}}
	args := append([]string{"--cluster-enabled", "yes",
		"--cluster-node-timeout", strconv.Itoa(int(NodeTimeout / time.Millisecond)),
		"--cluster-config-file", "nodes.conf"}, extra...)
	for _, port := range freePorts(t, masters*(1+replicasPer)) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c.kills[addr] = start(t, server, port, t.TempDir(), args...)
		c.addrs = append(c.addrs, addr)
	}
	// redis-cli makes the first masters addresses masters and the others
	// their replicas.
	create := append([]string{"--cluster", "create"}, c.addrs...)
	create = append(create, "--cluster-replicas", strconv.Itoa(replicasPer), "--cluster-yes")
	if out, err := exec.Command(cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.URL = "redis://" + c.addrs[0]
	c.waitHealthy(t, 30*time.Second, masters, replicasPer)
	c.WaitReplicated(t)
	return c
}

// waitHealthy waits until every node reports cluster_state:ok and knows
// every other node, and every master has replicasPer replicas online.
func (c *ReplicatedCluster) waitHealthy(t testing.TB, timeout time.Duration, masters, replicasPer int) {
	t.Helper()
	for _, addr := range c.addrs {
		waitFor(t, timeout, "cluster_state:ok and a full view on "+addr, func() bool {
			info, err := command(addr, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
			nodes, err := clusterNodes(addr)
			if err != nil || len(nodes) != len(c.addrs) {
				return false
			}
			for _, n := range nodes {
				if n.has("handshake") || n.has("noaddr") || n.has("fail?") || n.has("fail") {
					return false
				}
			}
			return true
		})
	}
	waitFor(t, timeout, "every master to have its replicas online", func() bool {
		online := 0
		for _, addr := range c.addrs {
			r, err := replication(addr)
			if err != nil {
				return false
			}
			if r.role == "master" {
				if len(r.replicas) != replicasPer {
					return false
				}
				for _, rep := range r.replicas {
					if rep.state == "online" {
						online++
					}
				}
			}
		}
		return online == masters*replicasPer
	})
}

// MasterOf returns the address ("127.0.0.1:port") of the master that
// serves key's hash slot, as a node that has not been killed sees it now.
// It fails the test if no live node answers or no master serves the slot.
func (c *ReplicatedCluster) MasterOf(t testing.TB, key string) string {
	t.Helper()
	addr, err := c.masterOf(key)
	if err != nil {
		t.Fatalf("redistest: master of %q: %v", key, err)
	}
	return addr
}

func (c *ReplicatedCluster) masterOf(key string) (string, error) {
	var errs []error
	for _, addr := range c.live() {
		slot, err := intCommand(addr, "CLUSTER", "KEYSLOT", key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nodes, err := clusterNodes(addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range nodes {
			if n.has("master") && !n.has("fail") && n.serves(int(slot)) {
				return n.addr, nil
			}
		}
		return "", fmt.Errorf("%s knows no healthy master for slot %d", addr, slot)
	}
	return "", fmt.Errorf("no live node answered: %w", errors.Join(errs...))
}

// Failover waits until a master other than old serves key's slot and every
// live node reports cluster_state:ok, and returns the new master's
// address. It fails the test after timeout.
func (c *ReplicatedCluster) Failover(t testing.TB, key, old string, timeout time.Duration) string {
	t.Helper()
	var master string
	waitFor(t, timeout, "a new master for "+key, func() bool {
		m, err := c.masterOf(key)
		if err != nil || m == old {
			return false
		}
		for _, addr := range c.live() {
			info, err := command(addr, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		master = m
		return true
	})
	return master
}

// Kill kills the node at addr with SIGKILL and waits until it has exited.
func (c *ReplicatedCluster) Kill(t testing.TB, addr string) {
	t.Helper()
	kill, ok := c.kills[addr]
	if !ok {
		t.Fatalf("redistest: Kill(%q): no such node", addr)
	}
	c.mu.Lock()
	c.killed[addr] = true
	c.mu.Unlock()
	kill()
}

// WaitReplicated waits until every replica of every live master has
// received all that its master had written when WaitReplicated was called,
// so that killing a master now loses none of it.
func (c *ReplicatedCluster) WaitReplicated(t testing.TB) {
	t.Helper()
	for _, addr := range c.live() {
		r, err := replication(addr)
		if err != nil {
			t.Fatalf("redistest: INFO replication on %s: %v", addr, err)
		}
		if r.role != "master" {
			continue
		}
		target := r.offset
		waitFor(t, 10*time.Second, "the replicas of "+addr+" to reach offset "+strconv.FormatInt(target, 10), func() bool {
			r, err := replication(addr)
			if err != nil {
				return false
			}
			for _, rep := range r.replicas {
				if rep.state != "online" || rep.offset < target {
					return false
				}
			}
			return true
		})
	}
}

// live returns the addresses of the nodes not killed by Kill.
func (c *ReplicatedCluster) live() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, addr := range c.addrs {
		if !c.killed[addr] {
			out = append(out, addr)
		}
	}
	return out
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	addr  string   // ip:port, without the bus port
	flags []string // myself, master, slave, fail?, fail, handshake, noaddr, …
	slots [][2]int // served slot ranges, inclusive
}

func (n clusterNode) has(flag string) bool {
	for _, f := range n.flags {
		if f == flag {
			return true
		}
	}
	return false
}

func (n clusterNode) serves(slot int) bool {
	for _, r := range n.slots {
		if r[0] <= slot && slot <= r[1] {
			return true
		}
	}
	return false
}

// clusterNodes returns the cluster as the node at addr sees it.
func clusterNodes(addr string) ([]clusterNode, error) {
	out, err := command(addr, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	var nodes []clusterNode
	for line := range strings.Lines(out) {
		// <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <epoch> <link> <slot>...
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		hostport, _, _ := strings.Cut(f[1], "@")
		n := clusterNode{addr: hostport, flags: strings.Split(f[2], ",")}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue // a slot being migrated
			}
			lo, hi, isRange := strings.Cut(s, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("CLUSTER NODES on %s: bad slots %q", addr, s)
			}
			n.slots = append(n.slots, [2]int{a, b})
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// replicationInfo is what INFO replication says about a node.
type replicationInfo struct {
	role     string // master or slave
	offset   int64  // master_repl_offset
	replicas []replicaInfo
}

type replicaInfo struct {
	state  string // online when in sync
	offset int64  // acknowledged replication offset
}

// replication reads INFO replication from the node at addr.
func replication(addr string) (replicationInfo, error) {
	out, err := command(addr, "INFO", "replication")
	if err != nil {
		return replicationInfo{}, err
	}
	var r replicationInfo
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case k == "role":
			r.role = v
		case k == "master_repl_offset":
			r.offset, _ = strconv.ParseInt(v, 10, 64)
		case strings.HasPrefix(k, "slave") && strings.Contains(v, "state="):
			// slave0:ip=127.0.0.1,port=26001,state=online,offset=1234,lag=0
			var rep replicaInfo
			for kv := range strings.SplitSeq(v, ",") {
				name, val, _ := strings.Cut(kv, "=")
				switch name {
				case "state":
					rep.state = val
				case "offset":
					rep.offset, _ = strconv.ParseInt(val, 10, 64)
				}
			}
			r.replicas = append(r.replicas, rep)
		}
	}
	return r, nil
}

// intCommand sends one command over RESP to addr and returns its integer
// reply.
func intCommand(addr string, args ...string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, ":"):
		return strconv.ParseInt(line[1:], 10, 64)
	case strings.HasPrefix(line, "-"):
		return 0, fmt.Errorf("redis: %s", line[1:])
	}
	return 0, fmt.Errorf("redis: unexpected reply %q", line)
}
