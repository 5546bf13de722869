import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 480
    height: 800

    Component {
        id: casesComponent
        CasesPage {}
    }
    Component {
        id: caseComponent
        CasePage {}
    }
    Component {
        id: spyComponent
        SignalSpy {}
    }

    TestCase {
        id: testCase
        name: "Cases"
        when: windowShown

        function makePage(component, properties) {
            properties.width = stage.width;
            properties.height = stage.height;
            const page = createTemporaryObject(component, stage, properties);
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        function test_new_case_appears_in_the_list() {
            const vault = support.unlockedVault("cases passphrase 1");
            const page = makePage(casesComponent, { vault: vault });
            tryCompare(page.cases, "loading", false);
            compare(page.cases.count, 0);
            findChild(page, "caseTitleField").text = "Market square, 3 May";
            findChild(page, "caseDescriptionField").text = "Arrests at the market";
            mouseClick(findChild(page, "createCaseButton"));
            tryCompare(page.cases, "count", 1, 10000);
            compare(findChild(page, "caseTitleField").text, "", "the form is ready for the next");
            const list = findChild(page, "casesList");
            tryVerify(() => list.itemAtIndex(0) !== null);
            compare(list.itemAtIndex(0).title, "Market square, 3 May");
            compare(list.itemAtIndex(0).description, "Arrests at the market");

            // It is in the vault, not only in the list: a fresh model sees it.
            const again = makePage(casesComponent, { vault: vault });
            tryCompare(again.cases, "count", 1, 10000);
        }

        function test_case_needs_a_title() {
            const vault = support.unlockedVault("cases passphrase 2");
            const page = makePage(casesComponent, { vault: vault });
            findChild(page, "caseTitleField").text = "   ";
            mouseClick(findChild(page, "createCaseButton"));
            compare(findChild(page, "errorLabel").text, "Give the case a title.");
            wait(200);
            compare(page.cases.count, 0);
        }

        function test_clicking_a_case_opens_it() {
            const vault = support.unlockedVault("cases passphrase 3");
            const id = support.addCase(vault, "Checkpoint 7");
            verify(id.length === 32, id);
            const page = makePage(casesComponent, { vault: vault });
            const spy = createTemporaryObject(spyComponent, testCase,
                                              { target: page, signalName: "openCase" });
            const list = findChild(page, "casesList");
            tryVerify(() => list.itemAtIndex(0) !== null, 10000);
            waitForRendering(list);
            mouseClick(list.itemAtIndex(0));
            compare(spy.count, 1);
            compare(spy.signalArguments[0][0], id);
            compare(spy.signalArguments[0][1], "Checkpoint 7");
        }

        function test_case_lists_items_and_searches_them() {
            const vault = support.unlockedVault("cases passphrase 4");
            const caseId = support.addCase(vault, "River crossing");
            const other = support.addCase(vault, "Elsewhere");
            verify(support.addTestimony(vault, caseId, "Boat seized", "They took the boat at dawn", "W-1") !== "");
            verify(support.addTestimony(vault, caseId, "Beating", "Two officers beat him near the bridge", "W-2") !== "");
            verify(support.addTestimony(vault, caseId, "Curfew", "Nobody could leave after six", "W-3") !== "");
            verify(support.addTestimony(vault, other, "Bridge elsewhere", "A different bridge", "W-9") !== "");

            const page = makePage(caseComponent, { vault: vault, caseId: caseId, caseTitle: "River crossing" });
            tryCompare(page.items, "count", 3, 10000);
            const list = findChild(page, "itemsList");
            tryVerify(() => list.itemAtIndex(0) !== null);
            compare(list.itemAtIndex(0).title, "Boat seized", "capture order");
            compare(list.itemAtIndex(0).witness, "W-1");
            compare(list.itemAtIndex(0).kind, "Testimony");
            compare(list.itemAtIndex(0).syncState, "Not sent");

            const search = findChild(page, "searchField");
            search.forceActiveFocus();
            search.text = "bridge";
            tryCompare(page.items, "count", 1, 10000);
            tryVerify(() => list.itemAtIndex(0) !== null && list.itemAtIndex(0).title === "Beating");

            search.text = "nothingmatchesthis";
            tryCompare(page.items, "count", 0, 10000);

            search.text = "";
            tryCompare(page.items, "count", 3, 10000);
        }

        function test_item_click_opens_it() {
            const vault = support.unlockedVault("cases passphrase 5");
            const caseId = support.addCase(vault, "One");
            const itemId = support.addTestimony(vault, caseId, "Only", "Only item", "W-1");
            const page = makePage(caseComponent, { vault: vault, caseId: caseId, caseTitle: "One" });
            const spy = createTemporaryObject(spyComponent, testCase,
                                              { target: page, signalName: "openItem" });
            const list = findChild(page, "itemsList");
            tryVerify(() => list.itemAtIndex(0) !== null, 10000);
            waitForRendering(list);
            mouseClick(list.itemAtIndex(0));
            compare(spy.count, 1);
            compare(spy.signalArguments[0][0], itemId);
        }
    }
}
