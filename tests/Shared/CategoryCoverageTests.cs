using System.Reflection;

namespace KafkaCompatBroker.Testing;

/// <summary>
/// Every test class of this assembly carries exactly one Category trait (<see cref="Categories"/>), on the class or
/// a base class and never on a method, so <c>--filter Category=…</c> splits the suite with nothing left over.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class CategoryCoverageTests
{
    private static readonly string[] Known = [Categories.Unit, Categories.Integration, Categories.Compat, Categories.Cluster, Categories.Docker];

    [Fact]
    public void TestClasses_InThisAssembly_HaveExactlyOneKnownCategory()
    {
        var wrong = new List<string>();
        foreach (var type in typeof(CategoryCoverageTests).Assembly.GetTypes())
        {
            if (type.IsAbstract || !type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static).Any(IsTest))
            {
                continue;
            }

            var categories = CategoriesOf(type).ToList();
            if (categories.Count != 1 || !Known.Contains(categories[0]))
            {
                wrong.Add($"{type.FullName}: [{string.Join(", ", categories)}]");
            }

            foreach (var method in type.GetMethods().Where(IsTest))
            {
                if (TraitsOf(method.GetCustomAttributesData()).Any())
                {
                    wrong.Add($"{type.FullName}.{method.Name}: a Category trait on a method");
                }
            }
        }

        Assert.True(wrong.Count == 0, "Test classes without exactly one known Category trait:\n" + string.Join('\n', wrong));
    }

    private static bool IsTest(MethodInfo method) => method.GetCustomAttributes<FactAttribute>(inherit: true).Any();

    private static IEnumerable<string> CategoriesOf(Type type)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            foreach (var value in TraitsOf(t.GetCustomAttributesData()))
            {
                yield return value;
            }
        }
    }

    private static IEnumerable<string> TraitsOf(IEnumerable<CustomAttributeData> attributes) =>
        attributes
            .Where(a => a.AttributeType == typeof(TraitAttribute) && (string?)a.ConstructorArguments[0].Value == Categories.Name)
            .Select(a => (string)a.ConstructorArguments[1].Value!);
}
