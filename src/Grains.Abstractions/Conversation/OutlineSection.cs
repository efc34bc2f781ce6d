using System.Collections.Immutable;

namespace AuroraNexus.Grains.Conversation;

/// <summary>One entry of an answer's SUIVI outline: <c>[S2] title</c>, with the chunks that grounded it.</summary>
[GenerateSerializer, Immutable, Alias("nexus.OutlineSection")]
public sealed record OutlineSection(
    [property: Id(0)] string Id,
    [property: Id(1)] string Title,
    [property: Id(2)] ImmutableArray<long> ChunkIds);
