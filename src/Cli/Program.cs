using AuroraNexus.Cli;

return await NexusCli.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable, interactive: !Console.IsErrorRedirected);
