namespace AuroraNexus.Grains; internal static class Placeholder2 {}
