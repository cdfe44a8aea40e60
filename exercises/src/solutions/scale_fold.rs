//! Reference solution of the scale-folding exercise.

pub use crate::net::{Linear, Net};

/// The scale-folding pass (see the exercise).
pub fn fold_scale(net: &mut Net) -> usize {
    let mut folded = 0;
    let mut i = 0;
    while i < net.graph.nodes.len() {
        let users = net.graph.users();
        let node = &net.graph.nodes[i];
        let s = node.args.first().copied();
        let q = s.and_then(|s| (net.graph.nodes[s].op == "scores").then(|| net.graph.nodes[s].args[0]));
        let (Some(s), Some(q), Some(c)) = (s, q, net.constant(i)) else {
            i += 1;
            continue;
        };
        if node.op != "scale" || users[s] != 1 || users[q] != 1 || net.graph.nodes[q].op != "linear" {
            i += 1;
            continue;
        }
        let p = net.linears.get_mut(&net.graph.nodes[q].name).expect("a linear node has parameters");
        p.weight.data.iter_mut().for_each(|w| *w *= c);
        p.bias.iter_mut().for_each(|b| *b *= c);
        // Readers of z read s; z goes, and every index past it moves down one.
        let renumber = |a: &mut usize| {
            *a = match (*a).cmp(&i) {
                std::cmp::Ordering::Less => *a,
                std::cmp::Ordering::Equal => s,
                std::cmp::Ordering::Greater => *a - 1,
            }
        };
        let z = net.graph.nodes.remove(i);
        net.consts.remove(&z.name);
        net.graph.nodes.iter_mut().flat_map(|n| n.args.iter_mut()).for_each(renumber);
        net.graph.outputs.iter_mut().for_each(renumber);
        folded += 1;
    }
    folded
}
