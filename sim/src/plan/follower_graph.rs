//! Who follows whom in article 004's comet test: a seeded Barabási–Albert graph.
//!
//! It sits with the plan because it is a pure function of plan parameters (users,
//! friends per user, seed) that both the comet designs and the `fanout_correct`
//! checker rebuild, and neither may import the other.
//!
//! The seed's load test drew a "friends graph" of a million users by preferential
//! attachment, which gives the power-law fan-out a comet router must survive (a few
//! users with huge followings). Each new user befriends `m` distinct existing users,
//! each chosen with probability proportional to its degree (the classic list-of-edge-
//! ends trick: a uniform draw from every edge end so far). Friendship is mutual, so a
//! user's followers are its neighbours. Stored as compressed adjacency (CSR): a
//! million users with `m = 3` take about 50 MB, not a `Vec` per user.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The most edges (`users × m`) a graph may have, which the comet manager's
/// declaration holds its parameters to. Building one takes about 24 bytes an edge
/// (the edge list, the list of edge ends, the rows), and a run builds it twice (the
/// manager, then `fanout_correct`): so at most about 720 MB, and room for the
/// 10,000,000 users a node's `count` allows at article 004's 3 edges a user.
pub const GRAPH_EDGES_MAX: u64 = 30_000_000;

/// An undirected graph in compressed sparse row form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerGraph {
    /// `followers[offsets[u]..offsets[u + 1]]` are user `u`'s followers.
    offsets: Vec<u64>,
    followers: Vec<u32>,
}

impl FollowerGraph {
    /// A Barabási–Albert graph of `users` users, each joining with `m` friends, drawn
    /// from `seed`. The first `m + 1` users start fully connected.
    pub(crate) fn barabasi_albert(users: u32, m: u32, seed: u64) -> FollowerGraph {
        let m = m.max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let core = (m + 1).min(users);
        let mut edges: Vec<(u32, u32)> = Vec::with_capacity(users as usize * m as usize);
        // Every edge end so far: drawing uniformly from it is degree-proportional.
        let mut ends: Vec<u32> = Vec::with_capacity(2 * users as usize * m as usize);
        for a in 0..core {
            for b in 0..a {
                edges.push((a, b));
                ends.extend([a, b]);
            }
        }
        let mut chosen: Vec<u32> = Vec::with_capacity(m as usize);
        for user in core..users {
            chosen.clear();
            while chosen.len() < m as usize {
                let friend = ends[rng.random_range(0..ends.len())];
                if !chosen.contains(&friend) {
                    chosen.push(friend);
                }
            }
            for &friend in &chosen {
                edges.push((user, friend));
                ends.extend([user, friend]);
            }
        }
        FollowerGraph::from_edges(users, &edges)
    }

    fn from_edges(users: u32, edges: &[(u32, u32)]) -> FollowerGraph {
        let mut degree = vec![0u64; users as usize + 1];
        for &(a, b) in edges {
            degree[a as usize + 1] += 1;
            degree[b as usize + 1] += 1;
        }
        for i in 1..degree.len() {
            degree[i] += degree[i - 1];
        }
        let offsets = degree;
        let mut fill = offsets.clone();
        let mut followers = vec![0u32; edges.len() * 2];
        for &(a, b) in edges {
            followers[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
            followers[fill[b as usize] as usize] = a;
            fill[b as usize] += 1;
        }
        FollowerGraph { offsets, followers }
    }

    /// How many users the graph has.
    pub fn users(&self) -> u32 {
        (self.offsets.len() - 1) as u32
    }

    /// The users `user` follows and is followed by (edges go both ways).
    pub fn followers(&self, user: u32) -> &[u32] {
        let (from, to) = (self.offsets[user as usize], self.offsets[user as usize + 1]);
        &self.followers[from as usize..to as usize]
    }

    /// Edges, each counted once.
    pub fn edge_count(&self) -> usize {
        self.followers.len() / 2
    }

    /// The largest number of followers any user has.
    pub fn max_followers(&self) -> usize {
        (0..self.users()).map(|u| self.followers(u).len()).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_graph_and_another_seed_another() {
        let a = FollowerGraph::barabasi_albert(2_000, 3, 7);
        assert_eq!(a, FollowerGraph::barabasi_albert(2_000, 3, 7));
        assert_ne!(a, FollowerGraph::barabasi_albert(2_000, 3, 8));
    }

    #[test]
    fn every_user_joins_with_m_distinct_friends_and_friendship_is_mutual() {
        let g = FollowerGraph::barabasi_albert(1_000, 3, 1);
        assert_eq!(g.edge_count(), 6 + 3 * (1_000 - 4));
        for u in 0..g.users() {
            let f = g.followers(u);
            assert!(f.len() >= 3, "user {u} has {} followers", f.len());
            assert!(!f.contains(&u), "user {u} follows itself");
            for &v in f {
                assert!(g.followers(v).contains(&u), "{u} -> {v} is not mutual");
            }
        }
    }

    #[test]
    fn preferential_attachment_gives_a_heavy_tail() {
        // Uniform attachment would keep the maximum degree near m·ln(n) ≈ 30; BA's grows
        // like sqrt(n), so hubs with hundreds of followers appear at 20,000 users.
        let g = FollowerGraph::barabasi_albert(20_000, 3, 42);
        assert!(g.max_followers() > 150, "max followers {}", g.max_followers());
    }
}
