"""Spans of consecutive centres for the triplet contraction.

:py:meth:`TripletContraction.forward
<tricenter.features.contraction.TripletContraction.forward>` computes each coupling
group span by span: the product of one span stays small enough for the cache and is
written once into its rows of the output, instead of a product as large as the output
followed by a copy.
"""

from typing import List

import torch


def _pad(values: torch.Tensor, slot: torch.Tensor, n_rows: int) -> torch.Tensor:
    shape = [n_rows] + list(values.shape[1:])
    padded = torch.zeros(shape, dtype=values.dtype, device=values.device)
    return padded.index_copy(0, slot, values)


def triplet_spans(
    pair_center: torch.Tensor, n_centers: int, span_triplets: int
) -> List[List[int]]:
    """Consecutive centres grouped into spans of about ``span_triplets`` triplets
    (a centre is never split).

    :param pair_center: ``(n_pairs,)`` centre index of each pair, non-decreasing
    :param n_centers: number of centres
    :param span_triplets: triplets per span
    :return: per span with triplets: its first and last centre, first and last
        pair, first and last triplet (last ones excluded), and its largest number
        of neighbours
    """
    counts = torch.bincount(pair_center, minlength=n_centers)
    triplets = counts * counts
    pair_ends = torch.cumsum(counts, 0)
    triplet_ends = torch.cumsum(triplets, 0)
    span_of_center = torch.div(
        triplet_ends - triplets, span_triplets, rounding_mode="floor"
    )
    _, centers_per_span = torch.unique_consecutive(span_of_center, return_counts=True)
    span_index = torch.repeat_interleave(
        torch.arange(centers_per_span.shape[0], device=counts.device),
        centers_per_span,
    )
    widest = torch.zeros_like(centers_per_span).scatter_reduce(
        0, span_index, counts, "amax"
    )
    last = torch.cumsum(centers_per_span, 0) - 1
    first = last + 1 - centers_per_span
    table = torch.stack(
        [
            first,
            last + 1,
            pair_ends[first] - counts[first],
            pair_ends[last],
            triplet_ends[first] - triplets[first],
            triplet_ends[last],
            widest,
        ],
        dim=1,
    )
    return table[widest > 0].tolist()


def span_product(
    own: torch.Tensor,
    partner: torch.Tensor,
    pair_center: torch.Tensor,
    target: torch.Tensor,
    span: List[int],
):
    """Write one group's features of the consecutive centres of ``span``.

    :param own: ``(n_pairs, 2 l_1 + 1, n_radial)``
    :param partner: ``(n_pairs, 2 l_1 + 1, 2 lambda + 1, n_features)``
    :param pair_center: ``(n_pairs,)`` centre index of each pair
    :param target: ``(n_triplets, 2 lambda + 1, n_radial * n_features)``, the
        group's columns of the output
    :param span: first and last centre, pair and triplet (last excluded), and
        the largest neighbour count of the span's centres
    """
    first_center, last_center = span[0], span[1]
    first_pair, last_pair = span[2], span[3]
    first_triplet, last_triplet, n_slots = span[4], span[5], span[6]
    n_centers = last_center - first_center
    n_m, n_radial = own.shape[1], own.shape[2]
    n_mu, n_features = partner.shape[2], partner.shape[3]
    own = own[first_pair:last_pair]
    partner = partner[first_pair:last_pair]
    target = target[first_triplet:last_triplet]
    target = target.unflatten(-1, [n_radial, n_features])
    if last_triplet - first_triplet == n_centers * n_slots * n_slots:
        # every centre has n_slots neighbours: no padding, no gather
        own = own.reshape(n_centers, n_slots, n_m, n_radial)
        partner = partner.reshape(n_centers, n_slots, n_m, n_mu, n_features)
        features = torch.einsum("csan,ctauf->cstunf", own, partner)
        target.unflatten(0, [n_centers, n_slots, n_slots]).copy_(features)
        return
    centers = pair_center[first_pair:last_pair] - first_center
    counts = torch.bincount(centers, minlength=n_centers)
    offsets = torch.cumsum(counts, 0) - counts
    position = torch.arange(centers.shape[0], device=centers.device)
    position = position - offsets[centers]
    slot = centers * n_slots + position
    own = _pad(own, slot, n_centers * n_slots)
    own = own.reshape(n_centers, n_slots, n_m, n_radial)
    partner = _pad(partner, slot, n_centers * n_slots)
    partner = partner.reshape(n_centers, n_slots, n_m, n_mu, n_features)
    features = torch.einsum("csan,ctauf->cstunf", own, partner)
    # (j, j') of each triplet: j' runs fastest, as in the output
    partners = counts[centers]
    first = torch.repeat_interleave(slot, partners)
    rank = torch.arange(first.shape[0], device=first.device)
    rank = rank - (torch.cumsum(partners, 0) - partners).repeat_interleave(partners)
    picked = features.flatten(0, 2)[first * n_slots + rank]
    target.copy_(picked)
