namespace Plumbline.Core.Tests;

public class SmokeTests
{
    [Fact]
    public void CoreAssembly_Loads() => typeof(CoreAssembly).Assembly.GetName().Name.ShouldBe("Plumbline.Core");
}
