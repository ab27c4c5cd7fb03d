global using System.Net;
global using System.Net.Http.Json;
global using System.Text.Json.Nodes;
global using Microsoft.Playwright;
global using Plumbline.Browser.Tests.Infrastructure;
global using Plumbline.Server.Tests.Infrastructure;
global using Shouldly;
global using Xunit;

[assembly: AssemblyFixture(typeof(BrowserFixture))]
