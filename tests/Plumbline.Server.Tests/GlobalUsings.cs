global using System.Net;
global using System.Net.Http.Json;
global using System.Text.Json.Nodes;
global using Plumbline.Server.Tests.Infrastructure;
global using Shouldly;
global using Xunit;
