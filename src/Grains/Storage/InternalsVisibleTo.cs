using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("AuroraNexus.Tests")]
